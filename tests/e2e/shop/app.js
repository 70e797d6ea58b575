// Lensware Shop: a tiny History-API single-page app used as a browser-test fixture.
"use strict";

const PRODUCTS = [
  { sku: "mug", name: "Aperture Mug", price: 12.0, blurb: "Holds 350 ml of coffee." },
  { sku: "notebook", name: "Focus Notebook", price: 8.5, blurb: "A5, dotted, 120 pages." },
  { sku: "tote", name: "Prism Tote", price: 15.0, blurb: "Sturdy cotton canvas." },
  { sku: "hoodie", name: "Zoom Hoodie", price: 39.0, blurb: "Warm, soft, grey." },
];

/** In-memory cart: sku -> quantity. Survives client-side navigation, not reloads. */
const cart = new Map();

const view = document.getElementById("view");
const cartCount = document.getElementById("cart-count");

function money(n) {
  return "€" + n.toFixed(2);
}

function cartSize() {
  let n = 0;
  for (const qty of cart.values()) n += qty;
  return n;
}

function updateBadge() {
  cartCount.textContent = String(cartSize());
}

/** Client-side navigation. */
function navigate(path) {
  if (path !== location.pathname) history.pushState({}, "", path);
  render();
}

/** Make an <a href> navigate with pushState (a plain click only; modified clicks are left alone). */
function routeLink(a) {
  a.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(new URL(a.href).pathname);
  });
}

function loginView() {
  view.innerHTML = `
    <section class="card narrow">
      <h2>Sign in</h2>
      <form id="login-form" novalidate>
        <label for="email">Email</label>
        <input id="email" type="email" name="email" autocomplete="username" placeholder="you@example.com">
        <label for="password">Password</label>
        <input id="password" type="password" name="password" autocomplete="current-password">
        <button id="sign-in" type="submit" class="primary">Sign in</button>
      </form>
    </section>`;
  document.getElementById("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const email = document.getElementById("email").value;
    if (typeof window.shopIdentify === "function") window.shopIdentify(email);
    navigate("/products");
  });
}

function productsView() {
  const items = PRODUCTS.map(
    (p) => `
      <li class="product card">
        <h3>${p.name}</h3>
        <p class="blurb">${p.blurb}</p>
        <p class="price">${money(p.price)}</p>
        <button type="button" class="add" data-sku="${p.sku}">Add to cart</button>
      </li>`,
  ).join("");
  view.innerHTML = `
    <div class="view-head">
      <h2>Products</h2>
      <span id="stock" class="stock">Checking stock…</span>
    </div>
    <ul id="products" class="products">${items}</ul>
    <p class="promo"><a class="ph-no-capture" id="secret-promo" href="#promo">Secret promo</a></p>`;
  for (const button of view.querySelectorAll("button.add")) {
    button.addEventListener("click", () => {
      const sku = button.dataset.sku;
      cart.set(sku, (cart.get(sku) || 0) + 1);
      updateBadge();
    });
  }
  document.getElementById("secret-promo").addEventListener("click", (event) => {
    event.preventDefault();
  });
  console.log("products loaded", { count: 4 });
  console.warn("slow image", "hero.png");
  const stock = document.getElementById("stock");
  fetch("/api/stock?sku=all&token=s3cr3t-query")
    .then((response) => response.json())
    .then((body) => {
      stock.textContent = body.in_stock ? "In stock" : "Out of stock";
      stock.classList.add(body.in_stock ? "ok" : "bad");
    })
    .catch(() => {
      stock.textContent = "Stock unknown";
    });
}

function cartView() {
  const rows = [];
  let total = 0;
  for (const [sku, qty] of cart) {
    const p = PRODUCTS.find((x) => x.sku === sku);
    total += p.price * qty;
    rows.push(`
      <tr class="cart-line" data-sku="${sku}">
        <td>${p.name}</td><td class="num">${qty}</td><td class="num">${money(p.price * qty)}</td>
      </tr>`);
  }
  const body = rows.length
    ? `<table class="cart">
         <thead><tr><th>Item</th><th class="num">Qty</th><th class="num">Amount</th></tr></thead>
         <tbody>${rows.join("")}</tbody>
         <tfoot><tr><th colspan="2">Total</th><th id="cart-total" class="num">${money(total)}</th></tr></tfoot>
       </table>`
    : `<p id="cart-empty" class="muted">Your cart is empty.</p>`;
  view.innerHTML = `
    <section class="card">
      <h2>Your cart</h2>
      ${body}
      <p class="actions"><a id="to-checkout" class="button primary" href="/checkout">Go to checkout</a></p>
    </section>`;
  routeLink(document.getElementById("to-checkout"));
}

function checkoutView() {
  view.innerHTML = `
    <section class="card narrow">
      <h2>Checkout</h2>
      <p class="muted">${cartSize()} item(s) in your cart.</p>
      <label for="address">Delivery address</label>
      <input id="address" type="text" name="address" autocomplete="street-address" placeholder="1 Example Street">
      <div class="actions">
        <button id="pay" type="button" class="primary">Pay now</button>
        <button id="coupon" type="button">Apply coupon</button>
      </div>
      <p><a id="back" href="/products">Back to products</a></p>
    </section>`;
  // Deliberately broken: an uncaught error every time.
  document.getElementById("pay").addEventListener("click", () => {
    console.error("payment failed");
    throw new Error("Payment provider unavailable");
  });
  // #coupon is the dead button: no handler at all, on purpose.
  routeLink(document.getElementById("back"));
}

function notFoundView() {
  view.innerHTML = `
    <section class="card narrow">
      <h2>Not found</h2>
      <p>There is no page here. <a id="home" href="/products">See the products</a>.</p>
    </section>`;
  routeLink(document.getElementById("home"));
}

const ROUTES = {
  "/": loginView,
  "/login": loginView,
  "/products": productsView,
  "/cart": cartView,
  "/checkout": checkoutView,
};

function render() {
  const path = location.pathname.length > 1 ? location.pathname.replace(/\/+$/, "") : "/";
  (ROUTES[path] || notFoundView)();
  for (const a of document.querySelectorAll("#nav a")) {
    if (new URL(a.href).pathname === path) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  window.scrollTo(0, 0);
}

for (const a of document.querySelectorAll("#nav a")) routeLink(a);
window.addEventListener("popstate", render);
updateBadge();
render();
