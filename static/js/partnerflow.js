/* Partnerflow tracking snippet (docs/tracking.md). Served by Partnerflow itself; no dependencies.
 *
 * <script src="https://partnerflow.example/static/js/partnerflow.js" data-program="acme"
 *         data-window-days="30" data-attribution="last" defer></script>
 *
 * The referral redirect (/r/<code>) lands the visitor with ?pf_click=<click id>&pf_ref=<partner
 * code>. This keeps them in a first-party cookie and localStorage for the attribution window
 * (first click: an unexpired earlier one stays; last click: the newest wins), puts them into
 * hidden fields of forms marked data-partnerflow, and answers window.partnerflow.clickId(),
 * .partnerCode(), .fill(form). It never throws: storage may be blocked, the page may have no
 * parameters at all.
 */
(function (window, document) {
  "use strict";
  var KEY = "pf_click", REF = "pf_ref", STORE = "partnerflow";
  var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var CODE = /^[A-Za-z0-9_-]{1,150}$/;

  function scriptTag() {
    if (document.currentScript) { return document.currentScript; }
    return document.querySelector("script[data-program][src*='partnerflow']");
  }

  var tag = scriptTag();
  function option(name, fallback) {
    var value = tag && tag.getAttribute("data-" + name);
    return value ? value : fallback;
  }
  var days = parseInt(option("window-days", "30"), 10);
  if (!(days > 0)) { days = 30; }
  var firstClick = option("attribution", "last") === "first";
  var cookieDomain = option("cookie-domain", "");

  function param(name) {
    var pairs = window.location.search.replace(/^\?/, "").split("&");
    for (var i = 0; i < pairs.length; i++) {
      var pair = pairs[i].split("=");
      if (decodeURIComponent(pair[0]) === name && pair.length > 1) {
        try { return decodeURIComponent(pair[1].replace(/\+/g, " ")); } catch (e) { return ""; }
      }
    }
    return "";
  }

  function readCookie(name) {
    try {
      var parts = document.cookie.split("; ");
      for (var i = 0; i < parts.length; i++) {
        var at = parts[i].indexOf("=");
        if (parts[i].slice(0, at) === name) { return decodeURIComponent(parts[i].slice(at + 1)); }
      }
    } catch (e) { /* cookies blocked */ }
    return "";
  }

  function writeCookie(name, value, expires) {
    try {
      document.cookie = name + "=" + encodeURIComponent(value) +
        "; expires=" + new Date(expires).toUTCString() + "; path=/; SameSite=Lax" +
        (cookieDomain ? "; domain=" + cookieDomain : "") +
        (window.location.protocol === "https:" ? "; Secure" : "");
    } catch (e) { /* cookies blocked */ }
  }

  // The stored visit {click, ref, expires}: the cookies first, else localStorage; null when
  // none is kept or it has expired.
  function stored() {
    var click = readCookie(KEY), ref = readCookie(REF), expires = 0;
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORE) || "null");
      if (saved && saved.expires > new Date().getTime()) {
        expires = saved.expires;
        if (!click && !ref) { click = saved.click || ""; ref = saved.ref || ""; }
      }
    } catch (e) { /* storage blocked or garbled */ }
    if (!UUID.test(click)) { click = ""; }
    if (!CODE.test(ref)) { ref = ""; }
    return click || ref ? { click: click, ref: ref, expires: expires } : null;
  }

  function keep(click, ref) {
    var expires = new Date().getTime() + days * 24 * 3600 * 1000;
    writeCookie(KEY, click, click ? expires : 0);
    writeCookie(REF, ref, ref ? expires : 0);
    try {
      window.localStorage.setItem(STORE, JSON.stringify({ click: click, ref: ref, expires: expires }));
    } catch (e) { /* storage blocked */ }
  }

  var landedClick = param(KEY), landedRef = param(REF);
  if (!UUID.test(landedClick)) { landedClick = ""; }
  if (!CODE.test(landedRef)) { landedRef = ""; }
  var visit = stored();
  if ((landedClick || landedRef) && !(firstClick && visit)) {
    keep(landedClick, landedRef);
    visit = { click: landedClick, ref: landedRef };
  }

  function clickId() { return visit ? visit.click : ""; }
  function partnerCode() { return visit ? visit.ref : ""; }

  function put(form, name, value) {
    var field = form.querySelector("input[name='" + name + "']");
    if (!field) {
      if (!value) { return; }
      field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      form.appendChild(field);
    }
    field.value = value;
  }

  function fill(form) {
    try {
      if (!form || form.tagName !== "FORM") { return; }
      put(form, KEY, clickId());
      put(form, REF, partnerCode());
    } catch (e) { /* never break the merchant's form */ }
  }

  function fillMarked() {
    try {
      var forms = document.querySelectorAll("form[data-partnerflow]");
      for (var i = 0; i < forms.length; i++) { fill(forms[i]); }
    } catch (e) { /* ignore */ }
  }

  window.partnerflow = {
    program: option("program", ""),
    clickId: clickId,
    partnerCode: partnerCode,
    fill: fill
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fillMarked);
  } else {
    fillMarked();
  }
  // Forms added after load (a modal, a single-page app) are filled as they are submitted.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.hasAttribute && form.hasAttribute("data-partnerflow")) { fill(form); }
  }, true);
})(window, document);
