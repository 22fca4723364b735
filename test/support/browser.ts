import type { Browser } from 'playwright-core';
import { haveBinary } from './backend.js';

/**
 * Debian's Chromium (apt-get install chromium, .ci/setup.d/ui.sh), driven by playwright-core: the
 * browser cannot be downloaded here, so executablePath points at the system one. Headless; no
 * sandbox, as tests run as root in CI containers.
 */
export function chromiumPath(): string | undefined {
  return haveBinary('/usr/bin/chromium') ?? haveBinary('chromium');
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed (.ci/setup.d/ui.sh installs it)');
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
