// The order page (NetLab): follows GET /orders/{id} every two seconds until the order is
// settled one way or the other, and says where it stands in plain words.
(function () {
  'use strict';
  var id = document.body.dataset.orderId;
  var words = {
    awaiting_payment: ['Waiting for your payment.', ''], awaiting_review: ['Paid; the shop is reviewing the payment.', ''],
    paid: ['Paid. Thank you!', 'ok'], denied: ['Not paid: the payment was declined.', 'bad'], cancelled: ['Cancelled.', 'bad'],
    expired: ['Expired: it was not paid in time.', 'bad'], refunded: ['Refunded.', ''], failed: ['The payment failed.', 'bad']
  };
  var status = document.getElementById('status');
  var callback = null;
  try { callback = sessionStorage.getItem('snap-callback-' + id); } catch (e) {}
  if (callback) {
    document.getElementById('callback').textContent = callback;
    document.getElementById('browser-said').classList.remove('hidden');
  }
  function check() {
    fetch('/orders/' + encodeURIComponent(id)).then(function (r) { return r.json(); }).then(function (order) {
      var shown = words[order.status] || [order.status, ''];
      status.textContent = shown[0];
      status.className = 'notice ' + shown[1];
      status.dataset.status = order.status;
      if (order.status === 'awaiting_payment' || order.status === 'awaiting_review') setTimeout(check, 2000);
    }, function () { setTimeout(check, 2000); });
  }
  check();
})();
