// Markup typed into any field, carried back by a form error, forged into a link, or printed by a
// run, is shown as text: no script runs, no dialog opens, and nothing the payloads contain
// becomes an element, whether the page was rendered on the server or by the WebAssembly.

import { execFileSync } from 'node:child_process';
import type { Page } from '@playwright/test';
import {
  LABELS,
  USERS,
  button,
  expect,
  fileAndSubmitRequest,
  fileRequest,
  fillRequest,
  input,
  openRequest,
  signIn,
  test,
  validRequest,
  waitForHydration,
} from './fixtures';

/** Each payload sets window.__xss (and opens a dialog) if it ever runs. */
const PAYLOADS = [
  '</textarea><script>window.__xss=1;alert(1)</script>',
  '<img src=x onerror="window.__xss=2;alert(2)">',
  '"><svg onload="window.__xss=3;alert(3)">',
  '</script><script>window.__xss=4;alert(4)</script>',
];

/** The request form filled with a payload in every field (each field a different one). */
function hostileRequest(): Parameters<typeof fillRequest>[1] {
  const p = (i: number) => PAYLOADS[i % PAYLOADS.length];
  return {
    siteId: p(0),
    registrar: p(1),
    owaPool: p(2),
    applicationId: p(3),
    port: p(0),
    thumbprint: p(1),
    policyScope: 'named',
    policies: p(2),
    justification: `${p(0)} ${p(3)} and enough words to be long`,
  };
}

/** Records every dialog the page opens (and dismisses it). */
function watchDialogs(page: Page): string[] {
  const opened: string[] = [];
  page.on('dialog', async (dialog) => {
    opened.push(dialog.message());
    await dialog.dismiss();
  });
  return opened;
}

/** Nothing from the payloads became an element, and nothing ran. */
async function expectInert(page: Page, dialogs: string[], scriptsRun = true): Promise<void> {
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  await expect(page.locator('svg[onload]')).toHaveCount(0);
  // A payload that became a script element would hold exactly its own code. (The page's data
  // script may carry the payloads as JSON strings, with `<` escaped, which is inert.)
  const inline = await page.locator('script:not([src])').allTextContents();
  expect(inline.filter((s) => s.trim().startsWith('window.__xss'))).toEqual([]);
  if (scriptsRun) {
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  }
  expect(dialogs).toEqual([]);
}

/** Every field still holds exactly what was typed. */
async function expectTypedValuesKept(page: Page, values: ReturnType<typeof hostileRequest>): Promise<void> {
  await expect(input(page, LABELS.siteId)).toHaveValue(values.siteId!);
  await expect(input(page, LABELS.registrar)).toHaveValue(values.registrar!);
  await expect(input(page, LABELS.owaPool)).toHaveValue(values.owaPool!);
  await expect(input(page, LABELS.applicationId)).toHaveValue(values.applicationId!);
  await expect(input(page, LABELS.port)).toHaveValue(values.port!);
  await expect(input(page, LABELS.thumbprint)).toHaveValue(values.thumbprint!);
  await expect(input(page, LABELS.policies)).toHaveValue(values.policies!);
  await expect(input(page, LABELS.justification)).toHaveValue(values.justification!);
}

test('markup typed in every field stays text, with JavaScript', async ({ page, browserErrors }) => {
  browserErrors.expectRefusedApiCalls();
  const dialogs = watchDialogs(page);
  await signIn(page, USERS.alice);
  await page.goto('/requests/new');
  await waitForHydration(page);
  const values = hostileRequest();
  await fillRequest(page, values);
  await button(page, 'Save draft').click();
  await expect(page.getByRole('alert')).toContainText('Some fields need attention');
  await expectTypedValuesKept(page, values);
  await expectInert(page, dialogs);
});

test('markup comes back from a no-JavaScript form error as text, rendered by the server and hydrated', async ({
  openPage,
}) => {
  const plain = await openPage('the browser without JavaScript', { javaScriptEnabled: false });
  await signIn(plain, USERS.alice);
  await plain.goto('/requests/new');
  const values = hostileRequest();
  await fillRequest(plain, values);
  await button(plain, 'Save draft').click();
  await expect(plain).toHaveURL(/\/requests\/new\?.*__err=/);
  await expectTypedValuesKept(plain, values);
  await expectInert(plain, [], false);

  // The same browser's cookies, with JavaScript: the server-rendered page hydrates, and still
  // nothing runs.
  const url = plain.url();
  const cookies = await plain.context().cookies();
  const page = await openPage('the same person with JavaScript');
  await page.context().addCookies(cookies);
  const dialogs = watchDialogs(page);
  await page.goto(url);
  await waitForHydration(page);
  await expect(page).toHaveURL(/__err=/);
  await expectTypedValuesKept(page, values);
  await expectInert(page, dialogs);
});

test('a form error forged into a link is dropped, not shown', async ({ page }) => {
  const dialogs = watchDialogs(page);
  await signIn(page, USERS.alice);
  const forged = {
    Invalid: {
      errors: { justification: 'Forged message' },
      values: Object.fromEntries(
        ['site_id', 'registrar_fqdn', 'owa_pool_fqdn', 'policies', 'justification'].map((k, i) => [
          k,
          PAYLOADS[i % PAYLOADS.length],
        ]),
      ),
    },
  };
  const err = Buffer.from(JSON.stringify(forged)).toString('base64url');
  await page.goto(`/requests/new?__path=%2Fapi%2Fcreate_request&__err=${err}`);
  await waitForHydration(page);
  await expect(page).toHaveURL(/\/requests\/new$/);
  await expect(page.getByText('Forged message')).toHaveCount(0);
  await expect(input(page, LABELS.justification)).toHaveValue('');
  await expect(input(page, LABELS.siteId)).toHaveValue('');
  await expectInert(page, dialogs);
});

test('a rejection comment full of markup is shown as text, and kept when it is refused', async ({
  page,
  openPage,
  browserErrors,
}) => {
  browserErrors.expectRefusedApiCalls();
  await signIn(page, USERS.alice);
  const { id } = await fileAndSubmitRequest(page);

  const bob = await openPage('Bob');
  const dialogs = watchDialogs(bob);
  await signIn(bob, USERS.bob);
  await openRequest(bob, id);
  // Too long: refused beside the field, with what was typed kept.
  const tooLong = `${PAYLOADS[0]}${'x'.repeat(2000)}`;
  await input(bob, 'Comment').fill(tooLong);
  await button(bob, 'Reject').click();
  await expect(bob.locator('#f-comment-error')).toContainText('at most 2000 characters');
  await expect(input(bob, 'Comment')).toHaveValue(tooLong);
  await expectInert(bob, dialogs);

  const comment = PAYLOADS.join(' ');
  await input(bob, 'Comment').fill(comment);
  await button(bob, 'Reject').click();
  await expect(bob.locator('.page-head .badge')).toHaveText('Rejected');
  await expect(bob.locator('main')).toContainText(PAYLOADS[1]);
  await expectInert(bob, dialogs);

  // Server-rendered for another reader.
  const dialogs2 = watchDialogs(page);
  await openRequest(page, id);
  await expect(page.locator('main')).toContainText(PAYLOADS[3]);
  await expectInert(page, dialogs2);
});

/** Stores a failed run of request `id` whose step printed `output` (as a worker would). */
function seedRun(id: number, output: string): void {
  const db = process.env.IMLINK_E2E_DB;
  if (!db) throw new Error('IMLINK_E2E_DB must name the e2e server\'s SQLite database');
  const script = `
import sqlite3, sys, datetime
db = sqlite3.connect(sys.argv[1], timeout=30)
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
rid = int(sys.argv[2])
hash = db.execute('SELECT plan_hash FROM change_requests WHERE id = ?', (rid,)).fetchone()[0]
cur = db.execute("INSERT INTO jobs (request_id, plan_hash, state, attempts, fence, run_after, created_at, updated_at, kind, reason) VALUES (?, ?, 'failed', 1, 1, ?, ?, ?, 'apply', ?)", (rid, hash, now, now, now, sys.argv[3][:200]))
db.execute("INSERT INTO run_steps (job_id, position, step_id, state, output, output_sha256, started_at, finished_at) VALUES (?, 0, 'site', 'failed', ?, ?, ?, ?)", (cur.lastrowid, sys.argv[3], 'ab' * 32, now, now))
db.commit()
`;
  execFileSync('python3', ['-c', script, db, String(id), output]);
}

test('markup printed by a run is shown as text', async ({ page, openPage }) => {
  await signIn(page, USERS.alice);
  const { id } = await fileRequest(page, validRequest());
  seedRun(id, PAYLOADS.join('\n'));

  const dave = await openPage('Dave');
  const dialogs = watchDialogs(dave);
  await signIn(dave, USERS.dave);
  await openRequest(dave, id);
  const run = dave.locator('section[aria-labelledby="run-h"]');
  await expect(run).toContainText(PAYLOADS[1]);
  await expect(run).toContainText(PAYLOADS[0]);
  await expectInert(dave, dialogs);
});

test('markup in a lab sign-in question is shown as text', async ({ page, browserErrors }) => {
  browserErrors.expectRefusedApiCalls();
  const dialogs = watchDialogs(page);
  await signIn(page, USERS.dave);
  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByLabel('Sign in to OWA as').fill(`${PAYLOADS[1]}@litwareinc.com`);
  await button(page, 'Sign in').click();
  await expect(page.getByTestId('signin-result').first()).toContainText(PAYLOADS[1]);
  await expectInert(page, dialogs);
});

/** Opens `href` by following a link on a page of another site (here: no site at all). */
async function followLinkFromElsewhere(page: Page, href: string): Promise<void> {
  await page.goto('about:blank');
  await page.setContent(`<a id="go" href="${href}">open imlink</a>`);
  await page.click('#go');
}

test('a link followed from another site opens signed in (the Strict cookie is sent on reload)', async ({
  page,
  baseURL,
  context,
}) => {
  await signIn(page, USERS.bob);
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === 'imlink_session')?.sameSite).toBe('Strict');
  await followLinkFromElsewhere(page, `${baseURL}/approvals`);
  await expect(page).toHaveURL(/\/approvals$/);
  await expect(page.getByTestId('whoami')).toHaveText(USERS.bob);
});
