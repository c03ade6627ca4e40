// snap.js (NetLab): Midtrans' Snap popup for a merchant's page.
//
//   <script src="https://GATEWAY/snap/snap.js" data-client-key="SB-Mid-client-..."></script>
//   snap.pay(token, { onSuccess, onPending, onError, onClose })
//   snap.embed(token, { embedId, onSuccess, onPending, onError, onClose })
//   snap.show() / snap.hide()   — a loading overlay while the merchant's server makes the token
//
// The payment page runs in a frame on the gateway's origin; the merchant's page never sees the
// card. The page posts its results to this window (and to no other origin); this script
// accepts messages from the gateway's origin only, and hands each to the callback Midtrans'
// snap.js would call: onSuccess (paid), onPending (waiting for a transfer, a QR, a code),
// onError (refused, expired), onClose (closed before paying).
(function () {
  'use strict';
  var script = document.currentScript;
  var gateway = new URL(script.src).origin;
  var state = null;  // { frame, overlay, options, opener, done }
  var loading = null;

  function style(node, rules) { Object.keys(rules).forEach(function (k) { node.style[k] = rules[k]; }); }

  function pageURL(token) {
    return gateway + '/snap/v2/vtweb/' + encodeURIComponent(token) + '?origin=' + encodeURIComponent(location.origin);
  }

  function frame(token) {
    var iframe = document.createElement('iframe');
    iframe.src = pageURL(token);
    iframe.title = 'Payment';
    iframe.setAttribute('allow', 'clipboard-write');
    style(iframe, { width: '100%', height: '100%', border: '0', background: '#fff' });
    return iframe;
  }

  function close(fire) {
    if (!state) return;
    var options = state.options, opener = state.opener;
    if (state.overlay) state.overlay.remove(); else state.frame.remove();
    document.removeEventListener('keydown', escape);
    state = null;
    if (opener && typeof opener.focus === 'function') opener.focus();
    if (fire && typeof options.onClose === 'function') options.onClose();
  }

  function escape(event) { if (event.key === 'Escape' && state && state.overlay) close(true); }

  function open(token, options, container) {
    if (state) throw new Error('snap.pay is not allowed to be called in this state: a payment page is already open');
    if (typeof token !== 'string' || !token) throw new Error('snap: a transaction token is required');
    options = options || {};
    hide();
    var iframe = frame(token);
    var opener = document.activeElement;
    if (container) {
      container.appendChild(iframe);
      state = { frame: iframe, overlay: null, options: options, opener: opener, done: false };
      return;
    }
    var overlay = document.createElement('div');
    overlay.id = 'snap-midtrans';
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-label', 'Payment');
    overlay.setAttribute('aria-modal', 'true');
    style(overlay, { position: 'fixed', inset: '0', zIndex: '2147483647', background: 'rgba(0,0,0,.55)', display: 'flex',
                     alignItems: 'center', justifyContent: 'center' });
    var box = document.createElement('div');
    style(box, { width: 'min(420px, 100vw)', height: 'min(720px, 100vh)', background: '#fff', borderRadius: '10px', overflow: 'hidden',
                 position: 'relative' });
    // Phones: the visible height, not the one behind the browser's bars (where supported).
    box.style.height = 'min(720px, 100dvh)';
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = '×';
    button.setAttribute('aria-label', 'Close the payment page');
    style(button, { position: 'absolute', top: '4px', right: '8px', fontSize: '1.5rem', border: '0', background: 'transparent',
                    cursor: 'pointer' });
    button.addEventListener('click', function () { close(true); });
    box.appendChild(button);   // first in the tab order: a way out before the form
    box.appendChild(iframe);
    overlay.appendChild(box);
    document.body.appendChild(overlay);
    document.addEventListener('keydown', escape);
    state = { frame: iframe, overlay: overlay, options: options, opener: opener, done: false };
    iframe.addEventListener('load', function () { iframe.focus(); });
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== gateway || !state || event.source !== state.frame.contentWindow) return;
    var message = event.data;
    if (!message || message.source !== 'netlab-snap' || state.done) return;
    var options = state.options;
    var callback = { success: options.onSuccess, pending: options.onPending, error: options.onError }[message.event];
    if (typeof callback === 'function') callback(message.result);
    // A finished payment is final: later messages are ignored, and the popup (or the embedded
    // page) goes after a moment (Midtrans: autoCloseDelay), so snap.pay can open another.
    if (message.event === 'success' || message.event === 'error') {
      state.done = true;
      var delay = typeof options.autoCloseDelay === 'number' ? options.autoCloseDelay * 1000 : 800;
      var current = state;
      setTimeout(function () { if (state === current) close(false); }, delay);
    }
  });

  function show() {
    if (loading) return;
    loading = document.createElement('div');
    loading.setAttribute('role', 'status');
    loading.textContent = 'Loading…';
    style(loading, { position: 'fixed', inset: '0', zIndex: '2147483646', background: 'rgba(255,255,255,.7)', display: 'flex',
                     alignItems: 'center', justifyContent: 'center', font: '600 1.1rem system-ui, sans-serif' });
    document.body.appendChild(loading);
  }

  function hide() { if (loading) { loading.remove(); loading = null; } }

  window.snap = {
    pay: function (token, options) { open(token, options, null); },
    embed: function (token, options) {
      options = options || {};
      var container = document.getElementById(options.embedId);
      if (!container) throw new Error('snap.embed: no element with id ' + options.embedId);
      open(token, options, container);
    },
    show: show,
    hide: hide,
    clientKey: script.getAttribute('data-client-key')
  };
})();
