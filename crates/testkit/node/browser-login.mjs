// Logs in through a real browser: headless Debian Chromium driven by playwright-core.
//
// Usage: node crates/testkit/node/browser-login.mjs <start-url> <stop-prefix>
// with the credentials in the environment (PORTHOLE_LOGIN, PORTHOLE_PASSWORD), so they are not
// in the process list. It opens <start-url>, fills the `login` and `password` fields of the
// login form, submits it, and waits for the browser to request a URL that starts with
// <stop-prefix> (for a gateway login, the CLI's loopback callback). It waits for that request
// to finish or fail, prints `{"url": "<that URL>"}` on stdout and exits 0. On any failure it
// prints the page's URL and the start of its text on stderr and exits 1.
//
// Environment: PORTHOLE_CHROMIUM (default /usr/bin/chromium), PORTHOLE_BROWSER_TIMEOUT_MS
// (default 60000).

import process from 'node:process';

import { chromium } from 'playwright-core';

const [startUrl, stopPrefix] = process.argv.slice(2);
const login = process.env.PORTHOLE_LOGIN;
const password = process.env.PORTHOLE_PASSWORD;
const timeout = Number(process.env.PORTHOLE_BROWSER_TIMEOUT_MS ?? 60000);

if (!startUrl || !stopPrefix || !login || !password) {
  process.stderr.write('usage: PORTHOLE_LOGIN=… PORTHOLE_PASSWORD=… browser-login.mjs <start-url> <stop-prefix>\n');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.PORTHOLE_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  timeout,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

let page;
try {
  // A new context is a fresh, empty profile: no cookies from an earlier login.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  page = await context.newPage();
  page.setDefaultTimeout(timeout);

  const reached = page.waitForRequest((req) => req.url().startsWith(stopPrefix), { timeout });
  reached.catch(() => {});
  await page.goto(startUrl, { waitUntil: 'domcontentloaded' });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([
    reached,
    page.locator('input[name="password"]').press('Enter'),
  ]);
  const request = await reached;
  // Let the request reach its server (or fail to) before the browser goes away.
  await Promise.race([
    request.response().catch(() => null),
    page.waitForEvent('requestfailed', { predicate: (r) => r === request, timeout }).catch(() => null),
  ]);
  process.stdout.write(`${JSON.stringify({ url: request.url() })}\n`);
  await browser.close();
  process.exit(0);
} catch (err) {
  let where = '';
  if (page) {
    const text = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '');
    where = `\npage: ${page.url()}\n${text.slice(0, 500)}`;
  }
  process.stderr.write(`browser login failed: ${err.message}${where}\n`);
  await browser.close().catch(() => {});
  process.exit(1);
}
