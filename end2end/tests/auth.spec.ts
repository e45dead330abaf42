import { test, expect, hydrated } from './fixtures';
import type { Page } from '@playwright/test';

const unique = (name: string) => `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;

async function fill(page: Page, fields: Record<string, string>) {
  for (const [label, value] of Object.entries(fields)) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
}

test('sign up, sign out, sign in, change the password, sign in with the new one', async ({ page }) => {
  const email = unique('minji');
  await page.goto('/sign-up');
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호 (10자 이상)': 'short', '비밀번호 확인': 'short' });
  await page.getByRole('button', { name: '가입하기' }).click();
  await expect(page.getByText('비밀번호는 10자 이상이어야 해요.')).toBeVisible();

  await fill(page, { '비밀번호 (10자 이상)': 'correct horse battery', '비밀번호 확인': 'correct horse battery' });
  await page.getByRole('button', { name: '가입하기' }).click();
  await expect(page).toHaveURL('/');
  await expect(page.getByTestId('user-menu')).toHaveText(email);

  await page.getByTestId('user-menu').click();
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await page.getByRole('button', { name: '로그아웃' }).click();
  await expect(page).toHaveURL('/');
  await expect(page.getByRole('link', { name: '로그인', exact: true })).toBeVisible();

  await page.getByRole('link', { name: '로그인', exact: true }).click();
  await fill(page, { '이메일': email, '비밀번호': 'wrong password here' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('form-error')).toHaveText('이메일 또는 비밀번호가 올바르지 않아요.');
  await fill(page, { '비밀번호': 'correct horse battery' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('user-menu')).toHaveText(email);

  await page.goto('/profile');
  await hydrated(page);
  await fill(page, {
    '현재 비밀번호': 'correct horse battery',
    '새 비밀번호': 'a brand new passphrase',
    '새 비밀번호 확인': 'a brand new passphrase',
  });
  await page.getByRole('button', { name: '저장' }).click();
  await expect(page.getByText('비밀번호를 바꿨어요.')).toBeVisible();
  await page.getByRole('button', { name: '로그아웃' }).click();
  await expect(page).toHaveURL('/');

  await page.goto('/sign-in');
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호': 'a brand new passphrase' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('user-menu')).toHaveText(email);
});

test('a protected page sends you to sign in and back', async ({ page, context }) => {
  const email = unique('back');
  const response = await context.request.post('/api/sign_up', {
    form: { email, password: 'correct horse battery', confirm: 'correct horse battery', next: '/' },
  });
  expect(response.status()).toBe(200);
  await context.clearCookies();

  await page.goto('/profile');
  await expect(page).toHaveURL('/sign-in?next=/profile');
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호': 'correct horse battery' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-email')).toHaveText(email);
});

test('the language switch turns the page to English and back', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page).toHaveURL('/sign-in');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('link', { name: '한국어' }).click();
  await expect(page.getByRole('heading', { name: '로그인' })).toBeVisible();
});

test('sign in with GitHub through the provider and back', async ({ page }) => {
  const email = unique('octo');
  await page.goto('/sign-in?next=/profile');
  await hydrated(page);
  await page.getByRole('link', { name: 'GitHub(으)로 계속하기' }).click();
  await expect(page.getByRole('heading', { name: 'Mock github sign-in' })).toBeVisible();
  await page.getByLabel('Subject').fill(String(Date.now()));
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await expect(page.getByTestId('profile-providers')).toHaveText('github');
});
