// Lighthouse (mobile preset: Moto G Power screen, slow 4G, 4x CPU slowdown,
// simulated) on the given pages, in Debian's Chromium.
//
//   node lighthouse.mjs <url> [<url> ...]
//
// WEASEL_LH_COOKIE, when set, is sent with every request (a signed-in page).
// Prints each page's scores and what cost points; the last line is JSON:
// [{ url, performance, accessibility, bestPractices }], scores out of 100.
import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';

const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error('usage: node lighthouse.mjs <url> [<url> ...]');
  process.exit(2);
}

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--lang=ko-KR'],
});
const results = [];
try {
  for (const url of urls) {
    const flags = {
      port: chrome.port,
      output: 'json',
      logLevel: 'error',
      onlyCategories: ['performance', 'accessibility', 'best-practices'],
      extraHeaders: process.env.WEASEL_LH_COOKIE ? { Cookie: process.env.WEASEL_LH_COOKIE } : undefined,
    };
    // A trace Chromium failed to record (NO_NAVSTART, now and then) is
    // Lighthouse's fault, not the page's: try again, up to three times.
    let run = await lighthouse(url, flags);
    for (let attempt = 1; attempt < 3 && run.lhr.runtimeError; attempt++) {
      console.log(`  ${url}: ${run.lhr.runtimeError.code}, running again`);
      run = await lighthouse(url, flags);
    }
    const { categories, audits } = run.lhr;
    const score = (id) => Math.round((categories[id].score ?? 0) * 100);
    const scores = {
      url,
      performance: score('performance'),
      accessibility: score('accessibility'),
      bestPractices: score('best-practices'),
    };
    results.push(scores);
    const metric = (id) => audits[id]?.displayValue ?? '-';
    console.log(
      `${url}: performance ${scores.performance}, accessibility ${scores.accessibility}, best practices ${scores.bestPractices}` +
        ` (FCP ${metric('first-contentful-paint')}, LCP ${metric('largest-contentful-paint')}, TBT ${metric('total-blocking-time')},` +
        ` CLS ${metric('cumulative-layout-shift')}, SI ${metric('speed-index')})`,
    );
    if (run.lhr.runtimeError) console.log(`  runtime error: ${run.lhr.runtimeError.code} ${run.lhr.runtimeError.message}`);
    for (const warning of run.lhr.runWarnings ?? []) console.log(`  warning: ${warning}`);
    const lcp = audits['largest-contentful-paint-element']?.details?.items?.[0]?.items?.[0]?.node;
    if (lcp) console.log(`  largest contentful paint: ${lcp.nodeLabel} (${lcp.selector})`);
    for (const id of ['performance', 'accessibility', 'best-practices']) {
      for (const ref of categories[id].auditRefs) {
        const audit = audits[ref.id];
        if (ref.weight > 0 && audit.score !== null && audit.score < 0.9) {
          console.log(`  ${id}: ${ref.id} ${Math.round(audit.score * 100)} ${audit.displayValue ?? ''} — ${audit.title}`);
        }
      }
    }
  }
} finally {
  await chrome.kill();
}
console.log(JSON.stringify(results));
