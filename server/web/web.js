// sc-server's Tunnels web page: keeps the figures fresh without a
// reload.  It asks the page's JSON view (data-view on <body>) every
// data-poll milliseconds and puts each text where data-f names it, with
// textContent only: nothing from the server is ever parsed as markup.
"use strict";

(function () {
	var body = document.body;
	var view = body.dataset.view;
	var poll = parseInt(body.dataset.poll, 10) || 2000;

	if (!view)
		return;

	// each element of root marked data-f="key" gets cells[key]
	function fill(root, cells) {
		root.querySelectorAll("[data-f]").forEach(function (el) {
			var k = el.dataset.f;
			if (Object.prototype.hasOwnProperty.call(cells, k) &&
			    el.textContent !== cells[k])
				el.textContent = cells[k];
		});
	}

	// the rows of tbody as items says: in its order, new ones from the
	// template, gone ones out; link(id) is the first cell's address
	function rows(tbody, template, items, link) {
		var have = {};
		tbody.querySelectorAll("tr[data-id]").forEach(function (tr) {
			have[tr.dataset.id] = tr;
		});
		items.forEach(function (it) {
			var tr = have[it.id];
			if (tr) {
				delete have[it.id];
			} else {
				tr = template.content.firstElementChild.cloneNode(true);
				tr.dataset.id = it.id;
				var a = tr.querySelector("a");
				if (a && link)
					a.setAttribute("href", link(it.id));
			}
			fill(tr, it.cells);
			tbody.appendChild(tr);
		});
		Object.keys(have).forEach(function (id) {
			have[id].remove();
		});
	}

	function show(j) {
		var tbody = document.querySelector("tbody[data-rows]");
		var template = document.getElementById("row");
		if (j.tunnels) {
			rows(tbody, template, j.tunnels, function (id) {
				return "/tunnel/" + encodeURIComponent(id);
			});
			document.getElementById("empty").hidden =
			    j.tunnels.length > 0;
			return;
		}
		fill(document.querySelector("main"), j.cells);
		rows(tbody, template, j.links || [], null);
		var ol = document.getElementById("events");
		ol.replaceChildren();
		(j.events || []).forEach(function (e) {
			var li = document.createElement("li");
			li.textContent = e;
			ol.appendChild(li);
		});
		var stop = document.getElementById("stop");
		if (stop && !j.running)
			stop.closest("form").remove();
	}

	function tick() {
		fetch(view, { credentials: "same-origin",
		    headers: { "Accept": "application/json" } })
		    .then(function (r) {
			if (r.status === 401) {
				window.location.assign("/signin");
				throw new Error("signed out");
			}
			if (!r.ok)
				throw new Error("HTTP " + r.status);
			return r.json();
		    })
		    .then(function (j) {
			show(j);
			body.dataset.updated = String(Date.now());
			setTimeout(tick, poll);
		    })
		    .catch(function () {
			setTimeout(tick, poll * 2);
		    });
	}
	setTimeout(tick, poll);
})();
