// Runs alone, after every other test (the `lighthouse` project in
// playwright.config.ts): its performance score measures this machine's CPU.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext } from '@playwright/test';
import { test, expect, hydrated, signUp, unique } from './fixtures';

type Scores = { url: string; performance: number; accessibility: number; bestPractices: number };

test('Lighthouse, mobile preset: home and a conversation', async ({ page, context, browser, baseURL }) => {
  test.setTimeout(420_000);
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
  await printHydrationCost(context, browser, conversation.pathname);
  // Performance 95 is the goal (issue #14) and the gate. A conversation's
  // score is decided by its Total Blocking Time: hydrating it is one task on
  // the main thread, and most of that task is Chromium compiling each wasm
  // function on its first call (a trace: `wasm.CompileLazy` 54 of 67 ms),
  // a cost mostly per function. `scripts/build-site.sh` optimises the wasm
  // with wasm-opt -O3, which inlines more than -Oz: 1,923 functions compiled
  // instead of 2,684, and about a quarter less blocking time. Single runs
  // still swing with the machine (94-100 on 2026-12-06, medians of five
  // 97-100), hence the median of five runs (`WEASEL_LH_RUNS`).
  const floor = Number(process.env.WEASEL_LH_PERFORMANCE_FLOOR ?? 95);
  for (const s of scores) {
    if (s.performance < 95) console.log(`${s.url}: performance ${s.performance} is under the goal of 95 (floor ${floor})`);
    expect.soft(s.performance, `performance of ${s.url}`).toBeGreaterThanOrEqual(floor);
    expect.soft(s.accessibility, `accessibility of ${s.url}`).toBe(100);
    expect.soft(s.bestPractices, `best practices of ${s.url}`).toBeGreaterThanOrEqual(95);
  }
});

type TraceEvent = { name: string; dur?: number; tid: number; pid: number };

/**
 * Prints what hydrating a conversation costs this machine's main thread,
 * unthrottled: the wasm functions Chromium compiled on their first call
 * (what most of that task is; see above) and the longest task. A record for
 * the next change, not a gate.
 */
async function printHydrationCost(context: BrowserContext, browser: Browser, path: string) {
  const page = await context.newPage();
  await browser.startTracing(page, { categories: ['v8.wasm', 'disabled-by-default-devtools.timeline'] });
  await page.goto(path);
  await hydrated(page);
  const events: TraceEvent[] = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
  await page.close();
  const compiled = events.filter((e) => e.name === 'wasm.CompileLazy');
  if (compiled.length === 0) {
    console.log(`hydrating ${path}: no wasm compile events traced`);
    return;
  }
  const { pid, tid } = compiled[0];
  const ms = (us: number) => (us / 1000).toFixed(1);
  const longest = Math.max(...events.filter((e) => e.name === 'RunTask' && e.pid === pid && e.tid === tid).map((e) => e.dur ?? 0));
  const compiling = compiled.reduce((sum, e) => sum + (e.dur ?? 0), 0);
  console.log(
    `hydrating ${path}: ${compiled.length} wasm functions compiled on first call, ${ms(compiling)} ms; longest main-thread task ${ms(longest)} ms`,
  );
}
