import { test, expect, hydrated, signUp, unique } from './fixtures';
import type { Page } from '@playwright/test';

/** Records every Content-Security-Policy violation the page reports. */
async function watchViolations(page: Page) {
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as any).__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
}

const violations = (page: Page) => page.evaluate(() => (window as any).__violations as string[]);
const xssRan = (page: Page) => page.evaluate(() => (window as any).__xss === 1);

// A formula that fails to parse once carried the source around the error into
// the page as markup; the emulator echoes the question, as a model asked to
// repeat it would.
const payload = '$x^^<img src=x onerror=window.__xss=1>$ 다시 써 줘';

test('the page hydrates and streams under a strict CSP, and an answer cannot run script', async ({ page, context, browser }) => {
  await watchViolations(page);
  await signUp(context, unique('csp'));

  const home = await page.goto('/');
  const csp = home!.headers()['content-security-policy'];
  expect(csp).toContain("'strict-dynamic'");
  expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
  await hydrated(page);

  const box = page.getByRole('textbox', { name: '문제' });
  await box.fill(`${payload} [[pace:5]]`);
  await box.press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  const answer = page.getByTestId('answer').last();
  await expect(answer).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  // Streamed in the browser: the broken formula is shown as its source.
  await expect(answer.locator('.markdown')).toContainText('onerror=window.__xss=1');
  await expect(page.locator('.markdown img')).toHaveCount(0);
  expect(await xssRan(page)).toBe(false);

  // Rendered on the server after a reload, then hydrated again.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('answer').last().locator('.markdown')).toContainText('onerror=window.__xss=1');
  await expect(page.locator('.markdown img')).toHaveCount(0);
  expect(await xssRan(page)).toBe(false);
  expect(await violations(page)).toEqual([]);

  // And on its public share link, for a signed-out visitor.
  await page.getByRole('button', { name: '공유 링크 만들기' }).click();
  const sharePath = await page.getByTestId('share-link').getAttribute('href');
  const visitor = await browser.newContext();
  const stranger = await visitor.newPage();
  await watchViolations(stranger);
  await stranger.goto(sharePath!);
  await expect(stranger.locator('.msg-answer .markdown').first()).toContainText('onerror=window.__xss=1');
  await expect(stranger.locator('.markdown img')).toHaveCount(0);
  expect(await xssRan(stranger)).toBe(false);
  expect(await violations(stranger)).toEqual([]);
  await visitor.close();
});

test('markup that got in anyway cannot run: inline handlers are refused', async ({ page, consoleErrors }) => {
  await watchViolations(page);
  await page.goto('/');
  await hydrated(page);
  // As markup slipped past the renderer would: an inline event handler.
  await page.evaluate(() => {
    document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="window.__xss = 1" onload="window.__xss = 1">');
  });
  await expect.poll(() => violations(page)).toContainEqual(expect.stringContaining('script-src'));
  expect(await xssRan(page)).toBe(false);
  // Chromium logs the refusal as a console error: expected here, and only here.
  const refused = consoleErrors.filter((e) => e.includes('Content Security Policy'));
  expect(refused.length).toBeGreaterThan(0);
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !e.includes('Content Security Policy')));
});
