// Keeps the results console live through server-sent events from /api/events.
// The page is complete without this script; it only updates numbers in place.
(function () {
  if (!window.EventSource) return;
  var text = function (id, value) { var el = document.getElementById(id); if (el) el.textContent = value; };
  var source = new EventSource('/api/events');
  // present.js listens on the same stream.
  window.petsEvents = source;
  var round = document.body.dataset.round;
  source.addEventListener('results', function (event) {
    var r = JSON.parse(event.data);
    // A round closed: the page's list of rounds is drawn on the server.
    if (round && String(r.round) !== round) { window.location.reload(); return; }
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
      text('store-access', s.access || 'not known yet');
      text('store-error', s.last_error || 'none');
    }
    document.getElementById('stale').hidden = !r.stale;
    document.getElementById('live').hidden = false;
  });

  // One card per replica: kept, updated, added; a replica that left fades out.
  var fields = ['version', 'node', 'slot', 'health', 'pets_served', 'votes', 'faults'];
  var faultText = function (f) {
    var parts = [];
    if (f.latency_ms) parts.push('latency ' + f.latency_ms + ' ms');
    if (f.error_percent) parts.push('errors ' + f.error_percent + '%');
    if (typeof f.unhealthy_after_s === 'number') parts.push('unhealthy after ' + f.unhealthy_after_s + ' s');
    if (f.memory_mib) parts.push('memory ' + f.memory_mib + ' MiB');
    if (f.cpu_until) parts.push('CPU burn until ' + f.cpu_until);
    return parts.length ? parts.join(' ') : 'none';
  };
  // A new card's fault form is the fleet's, aimed at the replica.
  var faultForm = function (id) {
    var fleet = document.getElementById('fleet-faults');
    if (!fleet) return null;
    var details = document.createElement('details');
    details.className = 'faults';
    var summary = document.createElement('summary');
    summary.textContent = 'Inject a fault';
    details.appendChild(summary);
    var form = fleet.cloneNode(true);
    form.removeAttribute('id');
    form.querySelector('input[name="target"]').value = id;
    details.appendChild(form);
    return details;
  };
  var card = function (r) {
    var li = document.createElement('li');
    li.className = 'replica';
    li.dataset.id = r.id;
    var h = document.createElement('h3');
    li.appendChild(h);
    var dl = document.createElement('dl');
    var labels = { version: 'Version', node: 'Node', slot: 'Slot', health: 'Health', pets_served: 'Pets served', votes: 'Votes', faults: 'Faults' };
    fields.forEach(function (f) {
      var div = document.createElement('div');
      if (f === 'faults') div.className = 'wide';
      var dt = document.createElement('dt');
      dt.textContent = labels[f];
      var dd = document.createElement('dd');
      dd.dataset.field = f;
      div.appendChild(dt);
      div.appendChild(dd);
      dl.appendChild(div);
    });
    li.appendChild(dl);
    var form = faultForm(r.id);
    if (form) li.appendChild(form);
    return li;
  };
  source.addEventListener('fleet', function (event) {
    var fleet = JSON.parse(event.data);
    var list = document.getElementById('fleet-cards');
    if (!list) return;
    var seen = {};
    fleet.replicas.forEach(function (r) {
      seen[r.id] = true;
      var li = list.querySelector('li[data-id="' + CSS.escape(r.id) + '"]') || list.appendChild(card(r));
      li.classList.remove('leaving');
      li.classList.toggle('unhealthy', !r.healthy);
      var heading = li.querySelector('h3');
      heading.textContent = r.task || r.host;
      heading.title = r.task || r.host;
      var values = { version: r.version, node: r.node || '-', slot: r.slot || '-', health: r.healthy ? 'healthy' : 'unhealthy', pets_served: r.pets_served, votes: r.votes, faults: faultText(r.faults || {}) };
      fields.forEach(function (f) { li.querySelector('[data-field="' + f + '"]').textContent = values[f]; });
    });
    Array.prototype.forEach.call(list.querySelectorAll('li.replica'), function (li) {
      if (seen[li.dataset.id] || li.classList.contains('leaving')) return;
      li.classList.add('leaving');
      setTimeout(function () { if (li.classList.contains('leaving')) li.remove(); }, 1500);
    });
    var quorum = document.getElementById('fleet-quorum');
    if (quorum) {
      var q = fleet.store.quorum;
      quorum.textContent = fleet.store.electing ? 'Quorum: electing a leader; votes wait for it.'
        : q === true ? 'Quorum: a leader is elected.'
        : q === false ? 'No quorum: no server names a leader, so votes are refused.'
        : 'Looking for the Consul servers: none has answered yet.';
      quorum.classList.toggle('lost', q === false);
    }
    var servers = document.getElementById('fleet-servers');
    if (servers) {
      servers.textContent = '';
      fleet.store.servers.forEach(function (s) {
        var li = document.createElement('li');
        li.className = 'server' + (s.leader ? ' leader' : '');
        li.appendChild(document.createTextNode(s.name + ' '));
        var code = document.createElement('code');
        code.textContent = s.address;
        li.appendChild(code);
        li.appendChild(document.createTextNode(s.leader ? ' leader' : (s.voter ? ' voter' : ' non-voter')));
        servers.appendChild(li);
      });
    }
  });

  // The availability meter: the server computes the geometry; this copies it.
  var SVG = 'http://www.w3.org/2000/svg';
  // A version's segment is coloured as the template colours it (shade-N).
  var classOf = function (id, b) {
    if (id === 'meter-fails') return 'meter-fail';
    if (id === 'meter-segments') return 'meter-version shade-' + (b.shade % 4);
    return 'meter-bar';
  };
  var rects = function (id, bars, marks) {
    var g = document.getElementById(id);
    if (!g) return;
    g.textContent = '';
    bars.forEach(function (b) {
      var add = function (x, y, w, h) {
        var r = document.createElementNS(SVG, 'rect');
        r.setAttribute('class', classOf(id, b));
        r.setAttribute('x', x); r.setAttribute('y', y);
        r.setAttribute('width', w); r.setAttribute('height', h);
        g.appendChild(r);
      };
      add(b.x, b.y, 2, b.h);
      if (marks) add(b.x - 1, 4, 4, 6);
    });
  };
  source.addEventListener('meter', function (event) {
    var m = JSON.parse(event.data);
    text('meter-summary', m.summary);
    text('meter-rate', m.rate);
    text('meter-ok', m.ok_percent);
    text('meter-failed', m.failed);
    text('meter-max', m.chart.max_rate);
    var start = document.getElementById('meter-start');
    if (start) start.hidden = m.active;
    var section = document.getElementById('meter');
    if (section) section.classList.toggle('failing', m.failed > 0);
    rects('meter-bars', m.chart.bars, false);
    rects('meter-segments', m.chart.segments, false);
    rects('meter-fails', m.chart.fails, true);
    var versions = document.getElementById('meter-versions');
    if (versions) {
      versions.textContent = '';
      m.versions.forEach(function (v) {
        var li = document.createElement('li');
        var swatch = document.createElement('span');
        swatch.className = 'swatch shade-' + (v.shade % 4);
        li.appendChild(swatch);
        li.appendChild(document.createTextNode('version ' + v.version));
        versions.appendChild(li);
      });
    }
    var shares = document.getElementById('meter-shares');
    var replicas = document.getElementById('meter-replicas');
    if (shares && replicas) {
      shares.hidden = m.replicas.length === 0;
      replicas.textContent = '';
      m.replicas.forEach(function (r) {
        var li = document.createElement('li');
        var code = document.createElement('code');
        code.textContent = r.replica;
        var share = document.createElement('strong');
        share.textContent = r.percent + '%';
        li.appendChild(code);
        li.appendChild(document.createTextNode(' '));
        li.appendChild(share);
        li.appendChild(document.createTextNode(' (' + r.requests + ')'));
        replicas.appendChild(li);
      });
    }
    var line = document.getElementById('meter-line');
    if (line) line.setAttribute('d', m.chart.line);
    var list = document.getElementById('meter-drivers');
    if (list) {
      list.textContent = '';
      m.drivers.forEach(function (d) {
        var li = document.createElement('li');
        var code = document.createElement('code');
        code.textContent = d.driver;
        li.appendChild(code);
        li.appendChild(document.createTextNode(' on ' + d.targets + ': ' + d.summary));
        list.appendChild(li);
      });
    }
  });
  source.addEventListener('lab', function (event) {
    var lab = JSON.parse(event.data);
    text('lab-count', lab.done + ' of ' + lab.applies + ' steps');
    lab.steps.forEach(function (s) {
      var li = document.querySelector('li.lab-step[data-step="' + s.id + '"]');
      if (!li) return;
      li.classList.toggle('done', !!s.done_at);
      li.classList.toggle('na', !s.done_at && !s.applies);
      li.querySelector('.lab-mark').textContent = s.done_at ? '\u2713' : '\u25CB';
      var short = li.querySelector('.lab-short');
      if (short) {
        short.textContent = s.short;
        if (s.done_at) {
          var at = document.createElement('time');
          at.setAttribute('datetime', s.done_at);
          at.textContent = ' ' + s.done_at.slice(11, 19);
          short.appendChild(at);
        }
      }
      var evidence = li.querySelector('[data-field="evidence"]');
      evidence.textContent = '';
      if (s.done_at) {
        var time = document.createElement('time');
        time.setAttribute('datetime', s.done_at);
        time.textContent = s.done_at.slice(11, 19) + ' UTC';
        evidence.appendChild(time);
        evidence.appendChild(document.createTextNode(': ' + s.evidence));
      } else if (s.note) {
        evidence.textContent = s.note;
      }
    });
  });
})();
