import { test, expect, hydrated, signUp, unique, PASSWORD, mailTo, linkIn } from './fixtures';
import type { Page } from '@playwright/test';

const answer = (page: Page) => page.getByTestId('answer').last();

/** Every label in the header sits on one line (no word broken inside). */
async function headerLabelsOnOneLine(page: Page) {
  const labels = page.locator('.app-header a:visible, .app-header button:visible, .app-header .brand span');
  const count = await labels.count();
  expect(count).toBeGreaterThan(1);
  for (let i = 0; i < count; i++) {
    const lines = await labels.nth(i).evaluate((el) => {
      // The lines its visible text occupies (images and hidden parts aside).
      const tops: number[] = [];
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.textContent?.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const rect of range.getClientRects()) {
          if (rect.width > 0 && !tops.some((t) => Math.abs(t - rect.top) < 4)) tops.push(rect.top);
        }
      }
      return tops.length;
    });
    expect(lines, `header label ${i}: ${await labels.nth(i).textContent()}`).toBe(1);
  }
}

test('the phone header is one short row, for visitors and students', async ({ page, context }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await hydrated(page);
  expect((await page.locator('.app-header').boundingBox())!.height).toBeLessThanOrEqual(64);
  await headerLabelsOnOneLine(page);
  await expect(page.locator('.app-header').getByRole('link', { name: '회원가입' })).toBeVisible();

  await signUp(context, unique('phone'));
  await page.reload();
  await hydrated(page);
  expect((await page.locator('.app-header').boundingBox())!.height).toBeLessThanOrEqual(64);
  await headerLabelsOnOneLine(page);
  await expect(page.getByTestId('header-sign-out')).toBeVisible();
});

test('the desktop header keeps the email and a sign-out', async ({ page, context }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const email = unique('desk');
  await signUp(context, email);
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByTestId('user-menu')).toContainText(email);
  await headerLabelsOnOneLine(page);
  await page.getByTestId('header-sign-out').click();
  await expect(page.locator('.app-header').getByRole('link', { name: '로그인' })).toBeVisible();
});

test('the box empties after sending, and the answer being written stays in view', async ({ page, context }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(context, unique('follow'));
  await page.goto('/');
  await hydrated(page);
  const box = page.getByTestId('question-box');
  await box.fill('긴 설명을 부탁해요 [[bytes:8000]] [[pace:30]]');
  await box.press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await hydrated(page);
  await expect(page.getByTestId('question-box')).toHaveValue('');
  // While it streams, its newest text is on screen.
  for (let i = 0; i < 4; i++) {
    await page.waitForTimeout(700);
    if ((await answer(page).getAttribute('data-status')) !== 'streaming') break;
    const bottom = await answer(page).locator('.markdown').evaluate((el) => el.getBoundingClientRect().bottom);
    expect(bottom).toBeLessThanOrEqual(844 + 40);
    expect(bottom).toBeGreaterThan(0);
  }
  // Scrolling up stops the following; the button brings the reader back.
  await expect(answer(page)).toHaveAttribute('data-status', 'streaming');
  await page.keyboard.press('PageUp');
  await expect(page.getByTestId('follow-answer')).toBeVisible();
  const y = await page.evaluate(() => window.scrollY);
  await page.waitForTimeout(600);
  expect(await page.evaluate(() => window.scrollY)).toBeLessThanOrEqual(y + 5);
  await page.getByTestId('follow-answer').click();
  await expect(page.getByTestId('follow-answer')).toHaveCount(0);
  await page.waitForTimeout(600);
  const bottom = await answer(page).locator('.markdown').evaluate((el) => el.getBoundingClientRect().bottom);
  expect(bottom).toBeLessThanOrEqual(844 + 40);
  await answer(page).getByRole('button', { name: '멈추기' }).click();
  await expect(answer(page)).toHaveAttribute('data-status', 'stopped', { timeout: 30_000 });
  // A follow-up by Enter empties the box too.
  await page.getByTestId('question-box').fill('두 번째 질문');
  await page.getByTestId('question-box').press('Enter');
  await expect(page.getByTestId('answer')).toHaveCount(2);
  await expect(page.getByTestId('question-box')).toHaveValue('');
});

test('a question typed before signing up is sent after it', async ({ page, context }) => {
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('button', { name: '수학' }).click();
  await page.getByTestId('question-box').fill('가입 전에 쓴 질문: 이차함수의 꼭짓점은?');
  await page.getByTestId('home-sign-up').click();
  await expect(page).toHaveURL(/\/sign-up/);
  const email = unique('pending');
  await hydrated(page);
  await page.getByLabel('이메일').fill(email);
  await page.getByLabel('비밀번호 (10자 이상)').fill(PASSWORD);
  await page.getByLabel('비밀번호 확인').fill(PASSWORD);
  await page.getByRole('button', { name: '가입하기' }).click();
  const link = linkIn(await mailTo(context.request, email), '/sign-in');
  await page.goto(link);
  await hydrated(page);
  await page.getByLabel('이메일').fill(email);
  await page.getByLabel('비밀번호', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: '로그인', exact: true }).click();
  await expect(page).toHaveURL(/\/c\/\d+/, { timeout: 20_000 });
  await expect(page.locator('.msg-student .question')).toHaveText('가입 전에 쓴 질문: 이차함수의 꼭짓점은?');
});

test('a visitor\'s Enter or photo button goes to sign-in, keeping the question', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const box = page.getByTestId('question-box');
  await page.getByRole('button', { name: '영어' }).click();
  await box.fill('방문자가 쓴 질문');
  await box.press('Shift+Enter');
  await expect(page).toHaveURL('/');
  await box.press('Enter');
  await expect(page).toHaveURL('/sign-in');
  await expect(page.getByRole('heading', { level: 1, name: '로그인' })).toBeVisible();
  const kept = async () => JSON.parse((await page.evaluate(() => localStorage.getItem('weasel.pending-question'))) ?? 'null');
  expect(await kept()).toMatchObject({ subject: 'english', text: '방문자가 쓴 질문\n' });

  await page.goto('/');
  await hydrated(page);
  await page.evaluate(() => localStorage.clear());
  await page.getByTestId('question-box').fill('사진으로 물을래요');
  await page.getByRole('link', { name: '사진 찍기' }).click();
  await expect(page).toHaveURL('/sign-in');
  expect(await kept()).toMatchObject({ text: '사진으로 물을래요' });
});

test('math in a question, its title and the list shows as math, never as raw $', async ({ page, context }) => {
  await signUp(context, unique('math'));
  await page.goto('/');
  await hydrated(page);
  await page.getByTestId('question-box').fill('$\\lim_{x \\to 0} \\frac{\\sin x}{x}$ 의 값은?');
  await page.getByTestId('question-box').press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(page.locator('.msg-student .question').locator('math').first()).toBeAttached();
  expect(await page.locator('.msg-student .question').innerText()).not.toContain('$');
  await expect(answer(page).locator('.final-answer')).toContainText('정답:');
  // A title with math shows it as math in the heading and in the list.
  await page.getByRole('button', { name: '이름 바꾸기' }).click();
  await page.getByLabel('대화 이름').fill('$x^2$ 의 최댓값');
  await page.getByRole('button', { name: '저장' }).click();
  await hydrated(page);
  const heading = page.locator('h1.conversation-title');
  await expect(heading.locator('math')).toBeAttached();
  expect(await heading.innerText()).not.toContain('$');
  const listed = page.getByTestId('conversation-list').locator('a[aria-current="page"]');
  await expect(listed.locator('math')).toBeAttached();
  expect(await listed.innerText()).not.toContain('$');
  await expect(page).toHaveTitle('x^2 의 최댓값 · Weasel');
});
