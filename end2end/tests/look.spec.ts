// The conversation page as a student sees it, against committed pictures
// (tests/look.spec.ts-snapshots), taken with Debian's fonts-noto-cjk, which
// scripts/setup.sh installs: Korean in the system's fonts, no web fonts.
// After a deliberate change of the look: `npx playwright test look --update-snapshots`.
import { test, expect, hydrated, signUp, unique } from './fixtures';

const sizes = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };

test('the conversation page looks as it should, phone and desktop, light and dark', async ({ page, context }) => {
  test.setTimeout(60_000);
  await signUp(context, unique('look'));
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('button', { name: '수학' }).click();
  await page.getByTestId('question-box').fill('함수 $f(x)=x^2-4x+3$ 의 최솟값을 구하시오. 분수 $\\frac{3}{4}$ 도 보여 주세요.');
  await page.getByTestId('question-box').press('Enter');
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(page.getByTestId('answer').last()).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await page.reload();
  await hydrated(page);
  // The student's address and the dates change from run to run.
  const mask = [page.locator('.user-email'), page.locator('.conversation-meta')];
  for (const [name, size] of Object.entries(sizes)) {
    await page.setViewportSize(size);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await page.evaluate(() => window.scrollTo(0, 0));
      await expect(page).toHaveScreenshot(`conversation-${name}-${colorScheme}.png`, {
        fullPage: true,
        mask,
        maxDiffPixelRatio: 0.02,
      });
    }
  }
});
