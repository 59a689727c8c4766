// The waiting page of pets paas: counts the time left down, asks the
// instance's status every second, and goes on once the instance answers
// (at once, unless the page has something to read: the password to note,
// or that the pets started afresh; then a link).
(function () {
  var state = document.getElementById("state");
  if (!state || !state.dataset.status) { return; }
  var status = state.dataset.status;
  var stay = state.dataset.stay === "true";
  var left = document.getElementById("left");
  var seconds = parseInt(left.dataset.seconds, 10);
  setInterval(function () {
    seconds = Math.max(0, seconds - 1);
    left.textContent = Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  }, 1000);
  function poll() {
    fetch(status, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      var progress = document.getElementById("progress");
      // Started again while this page was open: say so, and stay.
      var news = s.restarts > 0 && !document.getElementById("restarted");
      if (s.restarts > 0) { stay = true; state.textContent = "Your pets started afresh"; }
      if (news) { progress.textContent = "It was started again: the votes it held are gone."; }
      if (s.ready) {
        if (!(s.restarts > 0)) { state.textContent = "Your pets is ready"; }
        progress.textContent = (news ? progress.textContent + " " : "") + "It answers.";
        if (!stay) { window.location.href = s.url; return; }
        var go = document.createElement("a");
        go.href = s.url; go.id = "go"; go.textContent = "Go to your pets";
        progress.appendChild(document.createTextNode(" "));
        progress.appendChild(go);
        return;
      }
      if (s.gone) { state.textContent = "This pets is gone"; return; }
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
