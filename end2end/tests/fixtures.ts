import { test as base, expect, type APIRequestContext, type BrowserContext, type Page } from '@playwright/test';

/** The password every helper signs up with. */
export const PASSWORD = 'correct horse battery';

/** A fresh address for one test. */
export const unique = (name: string) => `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;

/** Where the mail sink (see playwright.config.ts) lists what the server sent. */
const mailSink = `http://127.0.0.1:${process.env.WEASEL_E2E_MAIL_PORT ?? 3140}`;

/** The newest mail to `address` once there are more than `seen`, polled from the sink. */
export async function mailTo(request: APIRequestContext, address: string, seen = 0): Promise<{ subject: string; body: string }> {
  let mails: { subject: string; body: string }[] = [];
  await expect
    .poll(async () => {
      const response = await request.get(`${mailSink}/messages?to=${encodeURIComponent(address)}`);
      mails = await response.json();
      return mails.length;
    }, { message: `a mail to ${address}` })
    .toBeGreaterThan(seen);
  return mails[mails.length - 1];
}

/** The path and query of the mail's link to `path` on this site. */
export function linkIn(mail: { body: string }, path: string): string {
  const link = mail.body.match(/https?:\/\/\S+/g)?.map((l) => new URL(l)).find((u) => u.pathname === path);
  if (!link) throw new Error(`no link to ${path} in: ${mail.body}`);
  return `${link.pathname}${link.search}`;
}

/** Signs up and confirms the address through its mail, as a person does; signed in afterwards. */
export async function signUp(context: BrowserContext, email: string, password = PASSWORD) {
  const started = await context.request.post('/api/sign_up', { form: { email, password, confirm: password, next: '/' } });
  expect(started.status()).toBe(200);
  const verify = new URLSearchParams(linkIn(await mailTo(context.request, email), '/sign-in').split('?')[1]).get('verify')!;
  const signedIn = await context.request.post('/api/sign_in', { form: { email, password, next: '/', verify } });
  expect(signedIn.status()).toBe(200);
}

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
