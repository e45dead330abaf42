import { test, expect, hydrated } from './fixtures';
import { test as plain } from '@playwright/test';

test('the home page hydrates and responds to clicks', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveTitle('Weasel');
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await hydrated(page);

  const math = page.getByRole('button', { name: '수학' });
  await expect(math).toHaveAttribute('aria-pressed', 'false');
  await math.click();
  await expect(math).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByRole('button', { name: '국어' })).toHaveAttribute('aria-pressed', 'false');
  await expect(page.getByTestId('subject-hint')).toContainText('수학 문제를 입력하세요');
});

test('the status server function answers, and students never see it', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const response = await page.request.post('/api/status', { form: {} });
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({ database: 'Sqlite', database_ok: true });
  await expect(page.locator('.app-footer')).not.toContainText('SQLite');
});

test('assets are served: stylesheet applied, favicon present', async ({ page, request }) => {
  await page.goto('/');
  const background = await page.evaluate(() => getComputedStyle(document.querySelector('.app-header')!).borderBottomStyle);
  expect(background).toBe('solid');
  const icon = await request.get('/favicon.svg');
  expect(icon.status()).toBe(200);
  expect(icon.headers()['content-type']).toContain('image/svg+xml');
});

test('health and readiness endpoints answer', async ({ request }) => {
  const health = await request.get('/healthz');
  expect(health.status()).toBe(200);
  const ready = await request.get('/readyz');
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
});

// The 404 document itself makes Chromium log a "Failed to load resource"
// error, so this one runs without the console-error guard.
plain('an unknown URL shows a proper 404 page that still hydrates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const response = await page.goto('/this/does/not/exist');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: /페이지를 찾을 수 없어요/ })).toBeVisible();
  await hydrated(page);
  await page.getByRole('link', { name: '처음으로 돌아가기' }).click();
  await expect(page).toHaveURL('/');
  expect(errors).toEqual([]);
});

plain.describe('without JavaScript', () => {
  plain.use({ javaScriptEnabled: false });

  plain('the page is fully rendered on the server', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('정답부터, 그다음 풀이까지.');
    await expect(page.locator('.app-footer')).toContainText('정답부터');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'false');
  });
});
