import { test, expect, hydrated, linkIn, mailTo, signUp, unique } from './fixtures';
import type { Page } from '@playwright/test';

async function fill(page: Page, fields: Record<string, string>) {
  for (const [label, value] of Object.entries(fields)) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
}

test('sign up, confirm by mail, sign out, sign in, change the password, sign in with the new one', async ({ page }) => {
  const email = unique('minji');
  await page.goto('/sign-up');
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호 (10자 이상)': 'short', '비밀번호 확인': 'short' });
  await page.getByRole('button', { name: '가입하기' }).click();
  await expect(page.getByText('비밀번호는 10자 이상이어야 해요.')).toBeVisible();

  await fill(page, { '비밀번호 (10자 이상)': 'password123', '비밀번호 확인': 'password123' });
  await page.getByRole('button', { name: '가입하기' }).click();
  await expect(page.getByText('너무 흔한 비밀번호예요. 다른 비밀번호를 써 주세요.')).toBeVisible();

  await fill(page, { '비밀번호 (10자 이상)': 'correct horse battery', '비밀번호 확인': 'correct horse battery' });
  await page.getByRole('button', { name: '가입하기' }).click();
  await expect(page.getByTestId('sign-up-sent')).toContainText('확인 메일을 보냈어요');

  // The link in the mail opens the sign-in page; the password finishes it.
  const mail = await mailTo(page.request, email);
  expect(mail.subject).toBe('Weasel 이메일 주소를 확인해 주세요');
  await page.goto(linkIn(mail, '/sign-in'));
  await hydrated(page);
  await expect(page.getByTestId('notice')).toContainText('이메일 주소를 확인하는 중이에요');
  await fill(page, { '이메일': email, '비밀번호': 'correct horse battery' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('user-menu')).toContainText(email);

  await page.getByTestId('user-menu').click();
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await page.getByRole('main').getByRole('button', { name: '로그아웃' }).click();
  await expect(page).toHaveURL('/');
  await expect(page.getByRole('link', { name: '로그인', exact: true })).toBeVisible();

  await page.getByRole('link', { name: '로그인', exact: true }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호': 'wrong password here' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('form-error')).toHaveText('이메일 또는 비밀번호가 올바르지 않아요.');
  await fill(page, { '비밀번호': 'correct horse battery' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('user-menu')).toContainText(email);

  await page.goto('/profile');
  await hydrated(page);
  await fill(page, {
    '현재 비밀번호': 'correct horse battery',
    '새 비밀번호': 'a brand new passphrase',
    '새 비밀번호 확인': 'a brand new passphrase',
  });
  await page.getByRole('button', { name: '저장' }).click();
  await expect(page.getByText('비밀번호를 바꿨어요.')).toBeVisible();
  await page.getByRole('main').getByRole('button', { name: '로그아웃' }).click();
  await expect(page).toHaveURL('/');

  await page.goto('/sign-in');
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호': 'a brand new passphrase' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('user-menu')).toContainText(email);
});

test('a protected page sends you to sign in and back', async ({ page, context }) => {
  const email = unique('back');
  await signUp(context, email);
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

test('a forgotten password is reset through the mailed link', async ({ page, context }) => {
  const email = unique('forgot');
  await signUp(context, email);
  await context.clearCookies();
  const seen = 1;

  await page.goto('/sign-in');
  await hydrated(page);
  await page.getByRole('link', { name: '비밀번호를 잊으셨나요?' }).click();
  await expect(page).toHaveURL('/forgot-password');
  await hydrated(page);
  await fill(page, { '이메일': email });
  await page.getByRole('button', { name: '링크 보내기' }).click();
  await expect(page.getByTestId('reset-sent')).toBeVisible();

  const mail = await mailTo(page.request, email, seen);
  expect(mail.subject).toBe('Weasel 비밀번호 재설정');
  await page.goto(linkIn(mail, '/reset-password'));
  await hydrated(page);
  await fill(page, { '새 비밀번호 (10자 이상)': 'qwertyuiop', '새 비밀번호 확인': 'qwertyuiop' });
  await page.getByRole('button', { name: '비밀번호 바꾸기' }).click();
  await expect(page.getByText('너무 흔한 비밀번호예요. 다른 비밀번호를 써 주세요.')).toBeVisible();
  await fill(page, { '새 비밀번호 (10자 이상)': 'seven purple otters sing', '새 비밀번호 확인': 'seven purple otters sing' });
  await page.getByRole('button', { name: '비밀번호 바꾸기' }).click();
  await expect(page).toHaveURL('/sign-in?reset=1');
  await expect(page.getByTestId('notice')).toContainText('비밀번호를 바꿨어요');
  await hydrated(page);
  await fill(page, { '이메일': email, '비밀번호': 'seven purple otters sing' });
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByTestId('user-menu')).toContainText(email);
});
