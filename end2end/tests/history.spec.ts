import { test, expect, hydrated } from './fixtures';

test('conversations are listed, renamed, reopened by URL and deleted', async ({ page, context }) => {
  const email = `history-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  const signUp = await context.request.post('/api/sign_up', {
    form: { email, password: 'correct horse battery', confirm: 'correct horse battery', next: '/' },
  });
  expect(signUp.status()).toBe(200);

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

  const list = page.getByTestId('conversation-list');
  await expect(list.getByRole('link')).toHaveText(['이차함수의 최댓값을 구하시오', '광합성의 명반응과 암반응을 비교하시오']);
  await expect(list.getByRole('link', { name: '이차함수의 최댓값을 구하시오' })).toHaveAttribute('aria-current', 'page');

  await list.getByRole('link', { name: '광합성의 명반응과 암반응을 비교하시오' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('광합성의 명반응과 암반응을 비교하시오');
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

  await page.goto(url);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('광합성 정리');
  await expect(list.getByRole('link', { name: '광합성 정리' })).toBeVisible();
  await hydrated(page);
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: '삭제' }).click();
  await expect(page).toHaveURL('/');
  await expect(list.getByRole('link')).toHaveText(['이차함수의 최댓값을 구하시오']);
  const gone = await page.goto(url);
  expect(gone?.status()).toBe(404);
});
