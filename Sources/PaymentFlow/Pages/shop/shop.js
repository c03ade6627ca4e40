// The shop's catalogue (NetLab). "Buy" asks the shop's server for an order and a Snap token
// (POST /checkout), then opens Snap's payment popup with snap.pay; whatever the popup says,
// the order page shows what the shop learned from the gateway's verified webhook — the popup's
// result is only a hint (anyone can fake a browser callback).
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  function say(text, kind) { var m = $('message'); m.textContent = text; m.className = 'notice ' + (kind || ''); }

  function checkout(product, quantity) {
    if (window.snap) window.snap.show();
    return fetch('/checkout', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ product_id: product.product_id, quantity: quantity })
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (window.snap) window.snap.hide();
        if (response.status !== 201) throw new Error(answer.message || answer.error || 'The shop could not start the payment');
        return answer;
      });
    });
  }

  function buy(product, quantity, redirect) {
    say('');
    checkout(product, quantity).then(function (answer) {
      var orderPage = '/order/' + encodeURIComponent(answer.order_id);
      if (redirect || !window.snap) { location.href = answer.redirect_url; return; }
      // What the popup said, for the order page to show beside the verified status.
      function remember(event) { try { sessionStorage.setItem('snap-callback-' + answer.order_id, event); } catch (e) {} }
      window.snap.pay(answer.token, {
        onSuccess: function () { remember('onSuccess'); location.href = orderPage; },
        onPending: function () { remember('onPending'); say('Waiting for your payment. Your order: ', ''); var a = document.createElement('a'); a.href = orderPage; a.textContent = answer.order_id; $('message').appendChild(a); },
        onError: function (result) { remember('onError'); say('The payment did not go through' + (result && result.status_message ? ': ' + result.status_message : '.'), 'bad'); },
        onClose: function () { say('You closed the payment page before paying. Your order is kept: ', ''); var a = document.createElement('a'); a.href = orderPage; a.textContent = answer.order_id; $('message').appendChild(a); }
      });
    }).catch(function (error) { if (window.snap) window.snap.hide(); say(error.message, 'bad'); });
  }

  fetch('/products').then(function (r) { return r.json(); }).then(function (products) {
    products.forEach(function (product) {
      var item = document.createElement('li');
      var name = document.createElement('h2'); name.textContent = product.name; item.appendChild(name);
      var price = document.createElement('p'); price.textContent = 'IDR ' + Number(product.price).toLocaleString('id-ID'); item.appendChild(price);
      var label = document.createElement('label'); label.textContent = 'Quantity'; label.htmlFor = 'quantity-' + product.product_id; item.appendChild(label);
      var quantity = document.createElement('input'); quantity.type = 'number'; quantity.min = '1'; quantity.max = '100'; quantity.value = '1';
      quantity.id = 'quantity-' + product.product_id; item.appendChild(quantity);
      var pay = document.createElement('button'); pay.type = 'button'; pay.textContent = 'Buy (Snap popup)'; pay.id = 'buy-' + product.product_id;
      pay.addEventListener('click', function () { buy(product, Number(quantity.value) || 1, false); });
      item.appendChild(pay);
      var redirect = document.createElement('button'); redirect.type = 'button'; redirect.className = 'secondary';
      redirect.textContent = 'Buy (full-page Snap)'; redirect.id = 'redirect-' + product.product_id;
      redirect.addEventListener('click', function () { buy(product, Number(quantity.value) || 1, true); });
      item.appendChild(redirect);
      var card = document.createElement('p'); var link = document.createElement('a');
      link.href = '/card?product=' + encodeURIComponent(product.product_id); link.textContent = 'Pay by card on this shop\u2019s own page (Core API)';
      link.id = 'card-' + product.product_id; card.appendChild(link); item.appendChild(card);
      document.getElementById('products').appendChild(item);
    });
  });
})();
