// The shop's catalogue (NetLab). "Buy" asks the shop's server for an order and a Snap token
// (POST /checkout), then opens Snap's payment popup with snap.pay; whatever the popup says,
// the order page shows what the shop learned from the gateway's verified webhook — the popup's
// result is only a hint (anyone can fake a browser callback).
(function () {
  'use strict';
  function $(id) { return document.getElementById(id); }
  function say(text, kind) { var m = $('message'); m.textContent = text; m.className = 'notice ' + (kind || ''); }

  // The cart: product id → quantity, kept in this tab (sessionStorage) until paid or emptied.
  var catalogue = {};
  function cart() { try { return JSON.parse(sessionStorage.getItem('cart') || '{}'); } catch (e) { return {}; } }
  function saveCart(lines) { try { sessionStorage.setItem('cart', JSON.stringify(lines)); } catch (e) {} drawCart(); }
  function rupiah(value) { return Number(value).toLocaleString('id-ID', { maximumFractionDigits: 0 }); }
  function drawCart() {
    var lines = cart(), ids = Object.keys(lines).filter(function (id) { return catalogue[id]; }), total = 0;
    var list = $('cart-lines'); list.textContent = '';
    ids.forEach(function (id) {
      total += Number(catalogue[id].price) * lines[id];
      var item = document.createElement('li'); item.textContent = lines[id] + ' × ' + catalogue[id].name; list.appendChild(item);
    });
    $('cart-total').textContent = rupiah(total);
    $('cart').classList.toggle('hidden', ids.length === 0);
  }
  function payCart(redirect) {
    var lines = cart();
    var items = Object.keys(lines).map(function (id) { return { product_id: id, quantity: lines[id] }; });
    pay({ items: items }, redirect, function () { saveCart({}); });
  }
  $('cart-pay').addEventListener('click', function () { payCart(false); });
  $('cart-redirect').addEventListener('click', function () { payCart(true); });
  $('cart-empty').addEventListener('click', function () { saveCart({}); });

  function checkout(body) {
    if (window.snap) window.snap.show();
    return fetch('/checkout', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (window.snap) window.snap.hide();
        if (response.status !== 201) throw new Error(answer.message || answer.error || 'The shop could not start the payment');
        return answer;
      });
    });
  }

  function buy(product, quantity, redirect) { pay({ product_id: product.product_id, quantity: quantity }, redirect, function () {}); }

  // One checkout at a time: every buy button waits until the payment page is open (a second
  // click would make a second order).
  var checkingOut = false;
  function buttons(disabled) {
    Array.prototype.forEach.call(document.querySelectorAll('main button'), function (b) { b.disabled = disabled; });
  }

  // `placed` runs once the shop has made the order (a cart is then emptied).
  function pay(body, redirect, placed) {
    if (checkingOut || document.getElementById('snap-midtrans') || $('snap-container').firstChild) return;
    checkingOut = true;
    buttons(true);
    say('');
    checkout(body).then(function (answer) {
      checkingOut = false;
      buttons(false);
      placed();
      var orderPage = '/order/' + encodeURIComponent(answer.order_id);
      if (redirect === true || !window.snap) { location.href = answer.redirect_url; return; }
      // What the popup said, for the order page to show beside the verified status.
      function remember(event) { try { sessionStorage.setItem('snap-callback-' + answer.order_id, event); } catch (e) {} }
      var show = redirect === 'embed' ? function (token, options) { options.embedId = 'snap-container'; window.snap.embed(token, options); }
        : window.snap.pay;
      show(answer.token, {
        onSuccess: function () { remember('onSuccess'); location.href = orderPage; },
        onPending: function () { remember('onPending'); say('Waiting for your payment. Your order: ', ''); var a = document.createElement('a'); a.href = orderPage; a.textContent = answer.order_id; $('message').appendChild(a); },
        onError: function (result) { remember('onError'); say('The payment did not go through' + (result && result.status_message ? ': ' + result.status_message : '.'), 'bad'); },
        onClose: function () { say('You closed the payment page before paying. Your order is kept: ', ''); var a = document.createElement('a'); a.href = orderPage; a.textContent = answer.order_id; $('message').appendChild(a); }
      });
    }).catch(function (error) { checkingOut = false; buttons(false); if (window.snap) window.snap.hide(); say(error.message, 'bad'); });
  }

  fetch('/products').then(function (r) { return r.json(); }).then(function (products) {
    products.forEach(function (product) {
      catalogue[product.product_id] = product;
      var item = document.createElement('li');
      var name = document.createElement('h2'); name.textContent = product.name; item.appendChild(name);
      var price = document.createElement('p'); price.textContent = 'IDR ' + Number(product.price).toLocaleString('id-ID'); item.appendChild(price);
      var label = document.createElement('label'); label.textContent = 'Quantity'; label.htmlFor = 'quantity-' + product.product_id; item.appendChild(label);
      var quantity = document.createElement('input'); quantity.type = 'number'; quantity.min = '1'; quantity.max = '100'; quantity.value = '1';
      quantity.id = 'quantity-' + product.product_id; item.appendChild(quantity);
      var add = document.createElement('button'); add.type = 'button'; add.textContent = 'Add to cart'; add.id = 'add-' + product.product_id;
      add.addEventListener('click', function () {
        var lines = cart(); lines[product.product_id] = Math.min(100, (lines[product.product_id] || 0) + (Number(quantity.value) || 1)); saveCart(lines);
      });
      item.appendChild(add);
      var now = document.createElement('button'); now.type = 'button'; now.className = 'secondary'; now.textContent = 'Buy now (Snap popup)';
      now.id = 'buy-' + product.product_id;
      now.addEventListener('click', function () { buy(product, Number(quantity.value) || 1, false); });
      item.appendChild(now);
      var embed = document.createElement('button'); embed.type = 'button'; embed.className = 'secondary';
      embed.textContent = 'Buy now (Snap on this page)'; embed.id = 'embed-' + product.product_id;
      embed.addEventListener('click', function () { buy(product, Number(quantity.value) || 1, 'embed'); });
      item.appendChild(embed);
      var redirect = document.createElement('button'); redirect.type = 'button'; redirect.className = 'secondary';
      redirect.textContent = 'Buy now (full-page Snap)'; redirect.id = 'redirect-' + product.product_id;
      redirect.addEventListener('click', function () { buy(product, Number(quantity.value) || 1, true); });
      item.appendChild(redirect);
      var card = document.createElement('p'); var link = document.createElement('a');
      link.href = '/card?product=' + encodeURIComponent(product.product_id); link.textContent = 'Pay by card on this shop\u2019s own page (Core API)';
      link.id = 'card-' + product.product_id; card.appendChild(link); item.appendChild(card);
      document.getElementById('products').appendChild(item);
    });
    drawCart();
  });
})();
