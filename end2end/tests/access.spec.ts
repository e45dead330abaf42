import AxeBuilder from '@axe-core/playwright';
import { test, expect, hydrated, signUp, unique } from './fixtures';
import type { Page } from '@playwright/test';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

/** Every WCAG 2.x A/AA rule and axe's best practices: the report names what failed and where. */
async function noViolations(page: Page, what: string) {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => `${n.target.join(' ')} ${n.html.slice(0, 120)}`).join(', ')}`);
  expect(found, `axe on ${what}`).toEqual([]);
}

/** Checks one page at the phone and the desktop size, in the light and the dark scheme. */
async function checkEverywhere(page: Page, what: string) {
  for (const size of [PHONE, DESKTOP]) {
    await page.setViewportSize(size);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await noViolations(page, `${what} at ${size.width}px, ${colorScheme}`);
    }
  }
}

test('every page passes axe, signed out and signed in, while an answer streams', async ({ page, context, browser }) => {
  // About 50 axe runs (every page at two sizes in two themes): 65-100 s on
  // a 2-core machine.
  test.setTimeout(240_000);
  for (const [path, what] of [['/', 'home'], ['/sign-in', 'sign-in'], ['/sign-up', 'sign-up'], ['/forgot-password', 'forgot password'], ['/no-such-page', '404']]) {
    await page.goto(path);
    await hydrated(page);
    await checkEverywhere(page, what);
  }

  await signUp(context, unique('axe'));
  await page.goto('/');
  await hydrated(page);
  await checkEverywhere(page, 'home, signed in');
  const box = page.getByTestId('question-box');
  await box.fill('접근성 점검: 분수 $\\frac{1}{2}+\\frac{1}{3}$ 의 값은? [[bytes:3000]] [[pace:80]]');
  await box.press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await hydrated(page);
  const answer = page.getByTestId('answer').last();
  await expect(answer).toHaveAttribute('data-status', 'streaming');
  await noViolations(page, 'conversation while streaming');
  await answer.getByRole('button', { name: '멈추기' }).click();
  await expect(answer).toHaveAttribute('data-status', 'stopped');
  await checkEverywhere(page, 'conversation, stopped');

  // Share it, and look at the shared page as a stranger.
  await page.getByRole('button', { name: '공유 링크 만들기' }).click();
  const sharePath = await page.getByTestId('share-link').getAttribute('href');
  await checkEverywhere(page, 'conversation, shared');
  const visitor = await browser.newContext({ locale: 'ko-KR' });
  const stranger = await visitor.newPage();
  await stranger.goto(sharePath!);
  // Sent without its wasm (read-only, made of links): nothing to hydrate.
  await expect(stranger.locator('.app')).toHaveAttribute('data-hydrated', 'static');
  await checkEverywhere(stranger, 'share page');
  await visitor.close();

  await page.goto('/search?q=%EB%B6%84%EC%88%98');
  await hydrated(page);
  await expect(page.getByTestId('search-results').getByRole('link')).toHaveCount(1);
  await checkEverywhere(page, 'search');
  await page.goto('/profile');
  await hydrated(page);
  await checkEverywhere(page, 'profile');
});

test('the keyboard alone asks, stops and retries', async ({ page, context }) => {
  test.setTimeout(60_000);
  await signUp(context, unique('keys'));
  await page.goto('/');
  await hydrated(page);

  /**
   * Presses Tab (or Shift+Tab) until `target` has the focus; every stop on
   * the way shows where the focus is (an outline).
   */
  async function tabTo(target: ReturnType<Page['locator']>, key = 'Tab', limit = 40) {
    for (let i = 0; i < limit; i++) {
      if (await target.evaluate((el) => el === document.activeElement)) return;
      await page.keyboard.press(key);
      const ring = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el || el === document.body) return 'none';
        const style = getComputedStyle(el);
        return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 ? 'ring' : `no ring on ${el.outerHTML.slice(0, 80)}`;
      });
      expect(ring === 'ring' || ring === 'none', ring).toBe(true);
    }
    throw new Error(`${key} never reached ${target}`);
  }

  // A subject by keyboard, the question typed, Enter sends.
  await tabTo(page.getByRole('button', { name: '수학' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: '수학' })).toHaveAttribute('aria-pressed', 'true');
  await tabTo(page.getByTestId('question-box'));
  await page.keyboard.type('키보드로만 묻기: 1+1은? [[bytes:6000]] [[pace:150]]');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await hydrated(page);
  const answer = page.getByTestId('answer').last();
  await expect(answer).toHaveAttribute('data-status', 'streaming');

  // Stop: back from the question box, which sits under the answer.
  await page.getByTestId('question-box').focus();
  await tabTo(answer.getByRole('button', { name: '멈추기' }), 'Shift+Tab');
  await page.keyboard.press('Enter');
  await expect(answer).toHaveAttribute('data-status', 'stopped');

  // Try again, by Space: a new answer replaces the stopped one and streams.
  const first = page.url();
  await page.getByTestId('question-box').focus();
  await tabTo(page.getByRole('button', { name: '다시 시도' }), 'Shift+Tab');
  await page.keyboard.press('Space');
  await expect(page).not.toHaveURL(first);
  await expect(page.getByTestId('answer')).toHaveCount(1);
  await expect(page.getByTestId('answer').last()).toHaveAttribute('data-status', 'streaming');

  // The language switch keeps the page, query included.
  const here = new URL(page.url());
  await tabTo(page.getByRole('link', { name: 'English' }), 'Tab', 20);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Stop' }).or(page.getByRole('button', { name: 'Regenerate' }))).toBeVisible();
  expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe(here.pathname + here.search);
});
