import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, expect, hydrated, signUp, unique } from './fixtures';
import type { Page } from '@playwright/test';

/** A photo whose hidden strip carries this problem (made by
 * `cargo run -p bedrock-emulator --example problem_photo`); the emulator
 * "reads" the strip, so the transcript is known. */
const problem = path.join(__dirname, '..', 'fixtures', 'problem.png');
const answer = (page: Page) => page.getByTestId('answer').last();

test('a photo is attached, read, corrected, solved, reloaded and shared', async ({ page, context, browser }) => {
  await signUp(context, unique('photo'));
  await page.goto('/');
  await hydrated(page);
  // A slow uplink, so the progress bar is there to be seen.
  const network = await context.newCDPSession(page);
  await network.send('Network.emulateNetworkConditions', {
    offline: false, latency: 100, downloadThroughput: 1_000_000, uploadThroughput: 8_000,
  });
  await page.getByTestId('photo-input').setInputFiles(problem);
  const thumbnail = page.getByTestId('thumbnail');
  await expect(thumbnail).toHaveCount(1);
  await expect(thumbnail.locator('img')).toBeVisible();
  await expect(thumbnail.getByTestId('upload-progress')).toBeVisible();
  await expect(thumbnail).toHaveAttribute('data-uploaded', 'true', { timeout: 20_000 });
  await expect(thumbnail.getByTestId('upload-progress')).toHaveCount(0);
  await network.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });

  // Read it first: the transcript streams into the box, which stays editable.
  await page.getByTestId('read-photos').click();
  const box = page.getByTestId('question-box');
  await expect(box).toHaveValue(/윗글의 내용과 일치하는 것은\?/);
  await expect(page.getByTestId('transcript-note')).toBeVisible();
  await box.fill((await box.inputValue()).replace('일치하는', '일치하지 않는'));
  await page.getByTestId('send').click();
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(answer(page)).toHaveAttribute('data-status', 'streaming');

  // A reload mid-answer keeps the photo and the answer going.
  await page.reload();
  const photo = page.getByTestId('question-photos').locator('img');
  await expect(photo).toHaveCount(1);
  await expect.poll(() => photo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await hydrated(page);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(answer(page)).toContainText('이미지 1장');
  await expect(answer(page)).toContainText('일치하지 않는');
  await expect(page.locator('.question')).toContainText('일치하지 않는');
  // The history list shows the photo beside the conversation.
  await expect(page.getByTestId('conversation-photo').first()).toBeVisible();

  // The share link shows the photo to a signed-out visitor.
  await page.getByRole('button', { name: '공유 링크 만들기' }).click();
  await expect(page.getByTestId('share-link')).toBeVisible();
  const sharePath = await page.getByTestId('share-link').getAttribute('href');
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(sharePath!);
  const shared = stranger.getByTestId('question-photos').locator('img');
  await expect(shared).toHaveCount(1);
  await expect.poll(() => shared.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
});

test('a pasted screenshot is solved directly on a phone', async ({ page, context }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(context, unique('paste'));
  await page.goto('/');
  await hydrated(page);
  const bytes = fs.readFileSync(problem).toString('base64');
  await page.getByTestId('question-box').evaluate((box, data) => {
    const binary = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([binary], 'screenshot.png', { type: 'image/png' }));
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, bytes);
  await expect(page.getByTestId('thumbnail')).toHaveAttribute('data-uploaded', 'true');
  await page.getByLabel('바로 풀기').check();
  await page.getByTestId('send').click();
  await expect(page).toHaveURL(/\/c\/\d+/);
  await expect(answer(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(answer(page)).toContainText('사진에서 읽은 글');
  await expect(page.getByTestId('question-box')).toHaveValue('');
});

test('a text file renamed .png and a 30 MB file get clear messages', async ({ page, context }) => {
  await signUp(context, unique('badphoto'));
  await page.goto('/');
  await hydrated(page);
  await page.getByTestId('photo-input').setInputFiles({
    name: 'homework.png',
    mimeType: 'image/png',
    buffer: Buffer.from('이건 사진이 아니라 글이에요'),
  });
  await expect(page.getByTestId('thumbnail')).toContainText('이미지 파일이 아니에요');
  await page.getByRole('button', { name: '사진 빼기' }).click();
  await page.getByTestId('photo-input').setInputFiles({
    name: 'huge.jpg',
    mimeType: 'image/jpeg',
    buffer: Buffer.alloc(30 * 1024 * 1024, 0xff),
  });
  await expect(page.getByTestId('thumbnail')).toContainText('파일이 너무 커요');
});
