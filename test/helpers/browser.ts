// Debian's chromium driven by puppeteer-core (no browser download). CI runs as root: --no-sandbox.
import puppeteer, { type Browser } from 'puppeteer-core';
import { requireTool } from './processes.js';

export async function launchBrowser(): Promise<Browser> {
  // The pages are Japanese too: fonts-noto-cjk (which .ci/run installs with chromium) renders them.
  const chromium = requireTool(process.env.CHROMIUM_PATH ?? 'chromium');
  return puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--lang=en-US'],
    defaultViewport: { width: 1200, height: 800 },
  });
}
