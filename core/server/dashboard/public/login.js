// The login form: the admin key goes to POST /dashboard/login once; the answer sets the session
// cookie (HttpOnly: this script never sees it) and the page reloads as the dashboard.
const form = document.getElementById('login');
const error = document.getElementById('login-error');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  const key = form.elements.namedItem('key').value;
  try {
    const res = await fetch('/dashboard/login', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }), credentials: 'same-origin',
    });
    if (res.ok) {
      location.assign('/dashboard');
      return;
    }
    const body = await res.json().catch(() => null);
    error.textContent = body?.error?.message ?? `login failed (HTTP ${res.status})`;
  } catch (err) {
    error.textContent = `the gateway did not answer: ${err.message}`;
  }
});
