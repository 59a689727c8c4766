// The projector page, live: draws the cluster by node from the console's
// event stream (live.js opens it) and the vote rate from the results.
// Without this script the page reloads every 5 seconds.
(function () {
  var source = window.petsEvents;
  if (!source) return;

  // Votes a minute over the last minute of results events.
  var samples = [];
  source.addEventListener('results', function (event) {
    var r = JSON.parse(event.data);
    var now = Date.now();
    samples.push([now, r.total_votes]);
    while (samples.length > 2 && now - samples[0][0] > 60000) samples.shift();
    var first = samples[0];
    var seconds = (now - first[0]) / 1000;
    var el = document.getElementById('vote-rate');
    if (el && seconds >= 2) el.textContent = String(Math.max(0, Math.round((r.total_votes - first[1]) * 60 / seconds)));
  });

  var item = function (className, parts) {
    var li = document.createElement('li');
    li.className = className;
    parts.forEach(function (p, i) {
      if (i > 0) li.appendChild(document.createTextNode(' '));
      var span = document.createElement('span');
      span.className = p[0];
      span.textContent = p[1];
      li.appendChild(span);
    });
    return li;
  };
  var tile = function (t) {
    var parts = [['tile-label', t.label], ['tile-version', t.version]];
    if (!t.healthy) parts.push(['tile-mark', 'unhealthy']);
    if (t.faulty) parts.push(['tile-mark', 'fault']);
    var li = item('tile shade-' + (t.shade % 4) + (t.healthy ? '' : ' unhealthy') + (t.faulty ? ' faulty' : ''), parts);
    li.dataset.id = t.id;
    return li;
  };
  var server = function (s) {
    var parts = [['consul-kind', 'Consul'], ['consul-name', s.name]];
    if (s.leader) parts.push(['tile-mark', 'leader']);
    else if (!s.voter) parts.push(['tile-mark', 'non-voter']);
    return item('consul' + (s.leader ? ' leader' : ''), parts);
  };
  var column = function (name, title) {
    var div = document.createElement('div');
    div.className = 'node' + (name ? '' : ' unplaced');
    div.dataset.node = name;
    var h = document.createElement('h3');
    h.textContent = title;
    div.appendChild(h);
    ['tiles', 'consuls'].forEach(function (c) { var ul = document.createElement('ul'); ul.className = c; div.appendChild(ul); });
    return div;
  };

  // Tiles are kept by replica: one that left fades out, a new one fades in.
  source.addEventListener('cluster', function (event) {
    var c = JSON.parse(event.data);
    var holder = document.getElementById('cluster-nodes');
    if (!holder) return;
    var old = {};
    Array.prototype.forEach.call(holder.querySelectorAll('li.tile'), function (li) { old[li.dataset.id] = li; });
    var kept = {};
    c.nodes.forEach(function (n) {
      var div = holder.querySelector('div.node[data-node="' + CSS.escape(n.name) + '"]') || column(n.name, n.name || 'Consul, node not known');
      holder.appendChild(div);
      kept[n.name] = true;
      var tiles = div.querySelector('ul.tiles');
      n.replicas.forEach(function (t) {
        var fresh = tile(t);
        if (old[t.id]) { old[t.id].replaceWith(fresh); delete old[t.id]; } else { fresh.classList.add('arriving'); setTimeout(function () { fresh.classList.remove('arriving'); }, 1300); }
        tiles.appendChild(fresh);
      });
      var consuls = div.querySelector('ul.consuls');
      consuls.textContent = '';
      n.servers.forEach(function (s) { consuls.appendChild(server(s)); });
    });
    Object.keys(old).forEach(function (id) {
      var li = old[id];
      if (li.classList.contains('leaving')) return;
      li.classList.add('leaving');
      setTimeout(function () { li.remove(); }, 1500);
    });
    Array.prototype.forEach.call(holder.querySelectorAll('div.node'), function (div) {
      if (kept[div.dataset.node]) return;
      div.querySelector('ul.consuls').textContent = '';
      if (!div.querySelector('li.tile:not(.leaving)')) {
        setTimeout(function () { if (!div.querySelector('li.tile:not(.leaving)') && !kept[div.dataset.node]) div.remove(); }, 1600);
      }
    });
    var quorum = document.getElementById('cluster-quorum');
    if (quorum) {
      quorum.textContent = c.electing ? 'Consul is electing a leader: votes wait for it'
        : c.quorum === true ? 'Consul has a quorum'
        : c.quorum === false ? 'Consul has no quorum: votes are refused' : "Looking for Consul's servers";
      quorum.classList.toggle('lost', c.quorum === false);
    }
    var legend = document.getElementById('cluster-versions');
    if (legend) {
      legend.textContent = '';
      c.versions.forEach(function (v, i) {
        var li = document.createElement('li');
        var swatch = document.createElement('span');
        swatch.className = 'swatch shade-' + (i % 4);
        li.appendChild(swatch);
        li.appendChild(document.createTextNode('version ' + v));
        legend.appendChild(li);
      });
    }
  });
})();
