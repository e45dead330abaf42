import { test as base, expect, type Page } from '@playwright/test';

/** Waits until the WebAssembly has hydrated the server-rendered page. */
export async function hydrated(page: Page) {
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * Every test fails if the page logs a console error or throws: a broken
 * hydration usually shows up only there.
 */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('console', (msg) => {
        // A 4xx answer (a rejected password, a validation error) is expected
        // behaviour that Chromium nevertheless logs as an error.
        const expected4xx = /Failed to load resource: the server responded with a status of 4\d\d/;
        if (msg.type() === 'error' && !expected4xx.test(msg.text())) errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
      await use(errors);
      expect(errors, 'console errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
