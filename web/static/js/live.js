// Keeps the results console live through server-sent events from /api/events.
// The page is complete without this script; it only updates numbers in place.
(function () {
  if (!window.EventSource) return;
  var text = function (id, value) { var el = document.getElementById(id); if (el) el.textContent = value; };
  var source = new EventSource('/api/events');
  source.addEventListener('results', function (event) {
    var r = JSON.parse(event.data);
    r.options.forEach(function (o) {
      var bar = document.getElementById('bar-' + o.id);
      if (bar) bar.setAttribute('width', String(o.percent * 4));
      text('votes-' + o.id, o.votes);
      text('percent-' + o.id, o.percent);
    });
    text('total-votes', r.total_votes);
    text('hits', r.hits);
    var s = r.store;
    if (s.kind === 'consul') {
      text('store-endpoints', s.endpoints.join(', '));
      text('store-servers', s.servers.join(', '));
      text('store-leader', s.leader || 'none');
      text('store-error', s.last_error || 'none');
    }
    document.getElementById('stale').hidden = !r.stale;
    document.getElementById('live').hidden = false;
  });
})();
