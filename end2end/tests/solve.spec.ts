import { test, expect, hydrated, signUp, unique } from './fixtures';
import type { BrowserContext, Page } from '@playwright/test';

async function signedIn(context: BrowserContext) {
  await signUp(context, unique('solver'));
}

async function ask(page: Page, question: string) {
  const box = page.getByRole('textbox', { name: '문제' });
  await box.fill(question);
  await box.press('Enter');
}

const answer = (page: Page) => page.getByTestId('answer').last();

test('an answer streams in, survives a reload, and follow-ups carry the context', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('button', { name: '수학' }).click();
  await ask(page, '첫 질문: 이차방정식 x^2+2x+1=0 의 해는? [[pace:40]]');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(page.getByTestId('emulator-note')).toBeVisible();

  // Tokens arrive progressively, not all at once.
  const lengths: number[] = [];
  for (let i = 0; i < 4; i++) {
    lengths.push(((await answer(page).locator('.markdown').textContent()) ?? '').length);
    await page.waitForTimeout(400);
  }
  expect(new Set(lengths).size).toBeGreaterThan(2);
  await expect(answer(page)).toHaveAttribute('data-status', 'streaming');

  // A reload mid-answer shows the text so far at once and carries on.
  await page.reload();
  const atReload = ((await answer(page).locator('.markdown').textContent()) ?? '').length;
  expect(atReload).toBeGreaterThan(0);
  await hydrated(page);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  const live = await answer(page).locator('.markdown').innerHTML();
  expect(live).toContain('<math');
  await expect(answer(page)).toContainText('정답:');

  // What streamed is exactly what was stored.
  await page.reload();
  expect(await answer(page).locator('.markdown').innerHTML()).toBe(live);

  await hydrated(page);
  await ask(page, '두 번째 질문: 더 자세히');
  await expect(page.getByTestId('answer')).toHaveCount(2);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(answer(page)).toContainText('직전 질문: «첫 질문: 이차방정식 x^2+2x+1=0 의 해는?»');
});

test('a stream the server refuses (busy, or a proxy while a replica restarts) is opened again and the answer completes', async ({ page, context, consoleErrors }) => {
  await signedIn(context);
  // The first two connections to the answer's events get 503 and 502: a
  // browser's EventSource gives up on an HTTP error, the page must not.
  const refusals = [503, 502];
  let refused = 0;
  await page.route('**/api/answers/*/events*', async (route) => {
    const status = refusals[refused];
    if (status !== undefined) {
      refused += 1;
      await route.fulfill({ status, headers: { 'retry-after': '1' }, body: 'busy' });
    } else {
      await route.continue();
    }
  });
  await page.goto('/');
  await hydrated(page);
  await ask(page, '바쁜 서버: 1+1은? [[bytes:1500]] [[pace:20]]');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  expect(refused).toBe(2);
  await expect(answer(page)).toContainText('정답:');
  // Chromium logs the two refusals; they are this test's doing, nothing else may be.
  const refusalLogs = consoleErrors.filter((e) => /status of 50[23]/.test(e));
  expect(refusalLogs).toHaveLength(2);
  consoleErrors.splice(0, consoleErrors.length, ...consoleErrors.filter((e) => !/status of 50[23]/.test(e)));

  // Nothing lost or doubled on the way: what the page shows is what was stored.
  const live = await answer(page).locator('.markdown').innerHTML();
  await page.unrouteAll();
  await page.reload();
  expect(await answer(page).locator('.markdown').innerHTML()).toBe(live);
});

test('stop keeps the partial answer', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await ask(page, '천천히 답해 주세요 [[pace:60]]');
  await expect(answer(page)).toHaveAttribute('data-status', 'streaming');
  await expect(answer(page).locator('.markdown')).toContainText('정답');
  await hydrated(page);
  await page.getByRole('button', { name: '멈추기' }).click();
  await expect(answer(page)).toHaveAttribute('data-status', 'stopped');
  await expect(page.getByTestId('answer-problem')).toHaveText('답을 멈췄어요.');
  const partial = (await answer(page).locator('.markdown').textContent()) ?? '';
  expect(partial.length).toBeGreaterThan(0);
  await page.reload();
  await expect(answer(page)).toHaveAttribute('data-status', 'stopped');
  expect((await answer(page).locator('.markdown').textContent()) ?? '').toBe(partial);
});

test('a model failure shows a clear message and retry works', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await ask(page, `고장 시험 ${Date.now()} [[fault:midstream]] [[once]]`);
  await expect(answer(page)).toHaveAttribute('data-status', 'failed', { timeout: 30_000 });
  await expect(page.getByTestId("answer-problem")).toContainText("답을 만드는 중에 문제가 생겼어요.");
  await hydrated(page);
  await page.getByRole('button', { name: '다시 시도' }).click();
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(answer(page)).toContainText('정답:');
  await expect(page.getByTestId('answer')).toHaveCount(1);
});

test('an answer cut off at the length limit says so and continues on request', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await ask(page, `긴 풀이 ${Date.now()} [[fault:maxtokens]]`);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(page.getByTestId('answer-cut-off')).toHaveText('답이 길어서 최대 길이에서 끊겼어요.');
  // Said after a reload too: it is stored, not a live-only note.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('answer-cut-off')).toBeVisible();
  await page.getByRole('button', { name: '이어서 쓰기' }).click();
  await expect(page.getByTestId('answer')).toHaveCount(2);
  await expect(page.locator('.msg-student .question').last()).toHaveText('끊긴 곳부터 이어서 계속 써 주세요.');
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  // The first answer still says it was cut off; only the last one offers to continue.
  await expect(page.getByTestId('answer-cut-off')).toHaveCount(1);
  await expect(page.getByRole('button', { name: '이어서 쓰기' })).toHaveCount(0);
});

test('Enter during Korean input composition does not send; Shift+Enter breaks the line', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  const box = page.getByRole('textbox', { name: '문제' });
  await box.fill('광합성이란 무엇인가');
  // The IME's own Enter (confirming a syllable) arrives with isComposing set.
  await box.dispatchEvent('keydown', { key: 'Enter', isComposing: true, bubbles: true, cancelable: true });
  await box.press('Shift+Enter');
  await page.waitForTimeout(300);
  await expect(page).toHaveURL('/');
  await box.press('End');
  await box.pressSequentially('요?');
  await box.press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(page.locator('.msg-student .question')).toHaveText('광합성이란 무엇인가\n요?');
});


test('an answer can be copied as Markdown', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await ask(page, '복사 시험');
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Markdown으로 복사' }).click();
  await expect(page.getByRole('button', { name: '복사했어요' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const id = Number(new URL(page.url()).pathname.split('/').pop());
  const stored = await (await context.request.post('/api/conversation', { form: { id: String(id) } })).json();
  expect(copied).toBe(stored.messages[1].content);
  expect(copied).toContain('$$\\int_0^1');

  // Regenerate replaces the last answer with a new one.
  const before = page.url();
  await page.getByRole('button', { name: '다시 생성' }).click();
  await expect(page).not.toHaveURL(before);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(page.getByTestId('answer')).toHaveCount(1);
});

test('an edited question is asked again and replaces the answers after it', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await ask(page, '삼각형의 넓이 공식을 설명하시오');
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await ask(page, '예시도 들어 주세요');
  await expect(page.getByTestId('answer')).toHaveCount(2);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });

  const first = page.locator('.msg-student').first();
  await first.getByText('질문 수정').click();
  await first.getByRole('textbox', { name: '수정할 질문' }).fill('사다리꼴의 넓이 공식을 설명하시오');
  page.once('dialog', (dialog) => {
    expect(dialog.message()).toContain('새 답변으로 바뀌어요');
    dialog.accept();
  });
  await first.getByRole('button', { name: '수정해서 다시 묻기' }).click();
  await expect(page).toHaveURL(/\?a=\d+/);
  await expect(page.locator('.msg-student .question')).toHaveText(['사다리꼴의 넓이 공식을 설명하시오']);
  await expect(page.getByTestId('answer')).toHaveCount(1);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(answer(page).locator('.markdown')).toContainText('사다리꼴의 넓이');
});

test('every answer shows its tokens and cost, and the daily limit stops the next question with a clear message', async ({ page, context }) => {
  await signedIn(context);
  await page.goto('/');
  await hydrated(page);
  await ask(page, '비용이 궁금한 질문: 1 + 1 = ?');
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  // Told by the stream's end, without a reload.
  const usage = answer(page).getByTestId('answer-usage');
  await expect(usage).toContainText(/^\$0\.\d{4}/);
  await usage.locator('summary').click();
  await expect(usage.getByTestId('answer-cost')).toHaveText(/^\$0\.0\d{3}$/);
  await expect(usage).toContainText('입력');
  // And after a reload, from what is stored.
  await page.reload();
  await expect(answer(page).getByTestId('answer-usage')).toContainText(/^\$0\.\d{4}/);
  const url = page.url();

  // Eleven more questions reach the day's twelve (asked as the page would).
  for (let i = 0; i < 11; i++) {
    const asked = await page.request.post('/api/ask', {
      form: { subject: 'math', question: `한도 채우기 ${i}` },
    });
    expect(asked.status(), await asked.text()).toBe(200);
  }
  await page.goto(url);
  await hydrated(page);
  await ask(page, '열세 번째 질문');
  await expect(page.getByRole('alert')).toContainText('오늘 질문할 수 있는 12번을 모두 썼어요.');
  await expect(page.getByRole('alert')).toContainText('한국 시간 자정');
  await expect(page.getByTestId('answer')).toHaveCount(1);
  // Straight to the API: 429 with the same meaning.
  const refused = await page.request.post('/api/ask', { form: { subject: 'math', question: '또 질문' } });
  expect(refused.status()).toBe(429);

  await page.goto('/profile');
  await expect(page.getByTestId('usage-today')).toContainText('질문 12개');
  await expect(page.getByTestId('usage-limit')).toContainText('질문 12개');
});
