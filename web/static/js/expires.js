// The countdown on a throwaway pets (PETS_EXPIRES_AT): minutes and seconds
// left, updated every second, from the time the server rendered.
(function () {
  var note = document.getElementById("expires");
  var left = document.getElementById("expires-left");
  if (!note || !left) return;
  var at = parseInt(note.getAttribute("data-expires-at"), 10) * 1000;
  function show() {
    var seconds = Math.max(0, Math.round((at - Date.now()) / 1000));
    left.textContent = Math.floor(seconds / 60) + " min " + (seconds % 60 < 10 ? "0" : "") + (seconds % 60) + " s";
  }
  show();
  setInterval(show, 1000);
})();
