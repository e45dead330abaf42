import { test, expect, hydrated, signUp } from './fixtures';

test('two problems are named, renamed, found, shared, revoked and deleted', async ({ page, context, browser }) => {
  test.setTimeout(60_000);
  const email = `history-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await signUp(context, email);

  await page.goto('/');
  await hydrated(page);
  const box = page.getByRole('textbox', { name: '문제' });
  await box.fill('광합성의 명반응과 암반응을 비교하시오');
  await box.press('Enter');
  await expect(page.getByTestId('answer')).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await page.getByRole('link', { name: '+ 새 문제' }).click();
  await hydrated(page);
  await page.getByRole('textbox', { name: '문제' }).fill('이차함수의 최댓값을 구하시오');
  await page.getByRole('textbox', { name: '문제' }).press('Enter');
  await expect(page.getByTestId('answer')).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });

  // Both listed, newest first, under the titles the title model made
  // (the emulator's: the first words and "정리"), the open one marked.
  const list = page.getByTestId('conversation-list');
  await expect(list.getByRole('link')).toHaveText(['이차함수의 최댓값을 구하시오 정리', '광합성의 명반응과 암반응을 정리']);
  await expect(list.getByRole('link', { name: '이차함수의 최댓값을 구하시오 정리' })).toHaveAttribute('aria-current', 'page');
  await expect(list.locator('.conversation-meta').first()).toHaveText(/^국어 · \d{4}\.\d{2}\.\d{2}$/);

  await list.getByRole('link', { name: '광합성의 명반응과 암반응을 정리' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('광합성의 명반응과 암반응을 정리');
  await hydrated(page);
  await page.getByRole('button', { name: '이름 바꾸기' }).click();
  await page.getByRole('textbox', { name: '대화 이름' }).fill('광합성 정리');
  await page.getByRole('button', { name: '저장' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('광합성 정리');
  const url = page.url();

  // Search finds it by a Korean word inside a longer one ("명반응" in "명반응과").
  await page.getByRole('searchbox', { name: '대화 검색' }).fill('명반응');
  await page.getByRole('searchbox', { name: '대화 검색' }).press('Enter');
  const results = page.getByTestId('search-results');
  await expect(results.getByRole('link')).toHaveText(['광합성 정리']);
  await expect(results.locator('mark').first()).toHaveText('명반응');
  // Each result says its subject and date, and the box keeps the words searched.
  await expect(results.getByTestId('hit-meta').first()).toHaveText(/^국어 · \d{4}\.\d{2}\.\d{2}$/);
  await expect(page.getByRole('searchbox', { name: '대화 검색' })).toHaveValue('명반응');

  // Opened by its URL after a reload.
  await page.goto(url);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('광합성 정리');
  await expect(list.getByRole('link', { name: '광합성 정리' })).toBeVisible();
  await hydrated(page);

  // Shared: the link opens in a fresh, signed-out browser.
  await page.getByRole('button', { name: '공유 링크 만들기' }).click();
  const link = page.getByTestId('share-link');
  await expect(link).toBeVisible();
  const sharePath = await link.getAttribute('href');
  expect(sharePath).toMatch(/^\/s\/[A-Za-z0-9_-]{43}$/);
  // The row shows the whole address, as it will be pasted.
  await expect(link).toHaveText(new URL(sharePath!, page.url()).href);
  const visitor = await browser.newContext();
  const stranger = await visitor.newPage();
  const shared = await stranger.goto(sharePath!);
  expect(shared?.status()).toBe(200);
  await expect(stranger.getByRole('heading', { level: 1 })).toHaveText('광합성 정리');
  await expect(stranger.locator('.msg-student .question')).toHaveText('광합성의 명반응과 암반응을 비교하시오');
  await expect(stranger.locator('.msg-answer .markdown').first()).toContainText('정답:');
  await expect(stranger.locator('meta[name="robots"]')).toHaveAttribute('content', 'noindex, nofollow');
  await expect(stranger.getByText(email)).toHaveCount(0);
  await expect(stranger.getByRole('link', { name: '로그인' })).toBeVisible();

  // Revoked: the same link is a 404 from now on.
  await page.getByRole('button', { name: '공유 중지' }).click();
  await expect(page.getByRole('button', { name: '공유 링크 만들기' })).toBeVisible();
  const gone = await stranger.goto(sharePath!);
  expect(gone?.status()).toBe(404);
  await expect(stranger.getByRole('heading', { level: 1 })).toHaveText('404 — 페이지를 찾을 수 없어요');
  await visitor.close();

  // Deleted, after the confirmation.
  await hydrated(page);
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: '삭제' }).click();
  await expect(page).toHaveURL('/');
  await expect(list.getByRole('link')).toHaveText(['이차함수의 최댓값을 구하시오 정리']);
  const deleted = await page.goto(url);
  expect(deleted?.status()).toBe(404);
});

test('on a phone the list is a drawer that closes on navigation', async ({ page, context }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const email = `drawer-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await signUp(context, email);
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('textbox', { name: '문제' }).fill('삼각형 내각의 합을 증명하시오');
  await page.getByRole('textbox', { name: '문제' }).press('Enter');
  await expect(page.getByTestId('answer')).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });

  const list = page.getByTestId('conversation-list');
  await expect(list).toBeHidden();
  await page.getByText('☰ 내 대화').click();
  await expect(list).toBeVisible();
  await page.getByRole('link', { name: '+ 새 문제' }).click();
  await expect(page).toHaveURL('/');
  await expect(list).toBeHidden();
  await page.getByText('☰ 내 대화').click();
  await list.getByRole('link').first().click();
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(list).toBeHidden();
});
