// Shared fixtures and page helpers for the imlink end-to-end tests.
//
// Every test imports `test` and `expect` from here instead of '@playwright/test': `test` adds
// an automatic check that the browser logged no errors (console.error, uncaught exceptions,
// WASM panics) and a way to open more signed-in browsers for multi-user scenarios.

import {
  test as base,
  expect,
  type BrowserContext,
  type BrowserContextOptions,
  type Locator,
  type Page,
} from '@playwright/test';

export { expect };

// ---------------------------------------------------------------------------------------------
// Demo accounts (the built-in local sign-in users)
// ---------------------------------------------------------------------------------------------

/** Display names of the demo accounts, as the sign-in buttons and the header show them. */
export const USERS = {
  /** requester */
  alice: 'Alice Martin',
  /** approver */
  bob: 'Bob Chen',
  /** approver */
  carol: 'Carol Diaz',
  /** auditor */
  dave: 'Dave Okafor',
  /** admin, requester, approver and auditor */
  erin: 'Erin Novak',
  /** helpdesk */
  hana: 'Hana Sato',
} as const;

// ---------------------------------------------------------------------------------------------
// Browser error collection
// ---------------------------------------------------------------------------------------------

interface BrowserProblem {
  kind: 'console.error' | 'pageerror';
  /** Which browser (context) it came from. */
  where: string;
  text: string;
  /** The page, script or resource the message is about. */
  url: string;
}

const FAILED_RESOURCE = 'Failed to load resource: the server responded with a status of';

/** Collects console errors and uncaught page errors from every watched browser context. */
export class BrowserErrors {
  private readonly problems: BrowserProblem[] = [];
  private allowFailedApi = false;
  private refusedPages: string[] = [];

  /** Starts collecting from `context` and every page opened in it. */
  watch(context: BrowserContext, where: string): void {
    context.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      this.problems.push({ kind: 'console.error', where, text: msg.text(), url: msg.location().url });
    });
    const watchPage = (page: Page) => {
      page.on('pageerror', (error) => {
        const text = [`${error.name}: ${error.message}`, error.stack ?? ''].join('\n').trim();
        this.problems.push({ kind: 'pageerror', where, text, url: page.url() });
      });
    };
    context.pages().forEach(watchPage);
    context.on('page', watchPage);
  }

  /**
   * Declares that this test expects some server function calls to be refused (a validation
   * error, a denial, a conflict). Chromium logs every non-2xx fetch as "Failed to load
   * resource"; with this, such messages about `/api/...` are not counted. Anything else,
   * panics included, still fails the test.
   */
  expectRefusedApiCalls(): void {
    this.allowFailedApi = true;
  }

  /**
   * Declares that the page at `path` is expected to answer with an error status (for example
   * 403 for a role refusal), which Chromium also logs as "Failed to load resource".
   */
  expectRefusedPage(path: string): void {
    this.refusedPages.push(path);
  }

  /** The problems that this test did not declare as expected. */
  unexpected(): BrowserProblem[] {
    return this.problems.filter((p) => {
      if (p.kind !== 'console.error' || !p.text.startsWith(FAILED_RESOURCE)) return true;
      const path = new URL(p.url || 'about:blank', 'http://x').pathname;
      const refusedApi = this.allowFailedApi && path.startsWith('/api/');
      return !(refusedApi || this.refusedPages.includes(path));
    });
  }

  /** A readable list for the failure message. */
  static describe(problems: BrowserProblem[]): string {
    return problems
      .map((p, i) => {
        const panic = /panicked/.test(p.text) ? ' [WASM PANIC]' : '';
        return `  ${i + 1}. ${p.kind}${panic} in ${p.where}${p.url ? ` (${p.url})` : ''}:\n     ${p.text.replace(/\n/g, '\n     ')}`;
      })
      .join('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

type Fixtures = {
  /** Automatic: fails the test if any watched browser logged an error or panicked. */
  browserErrors: BrowserErrors;
  /**
   * Opens a page in a new, separate browser context (its own cookies, so its own session),
   * with the configured baseURL and error collection. `label` names it in error reports.
   * Closed at the end of the test.
   */
  openPage: (label: string, options?: BrowserContextOptions) => Promise<Page>;
};

export const test = base.extend<Fixtures>({
  browserErrors: [
    async ({ context }, use) => {
      const errors = new BrowserErrors();
      errors.watch(context, 'the default page');
      await use(errors);
      const unexpected = errors.unexpected();
      expect(
        unexpected,
        `The browser reported ${unexpected.length} error(s) during the test:\n${BrowserErrors.describe(unexpected)}\n`,
      ).toEqual([]);
    },
    { auto: true },
  ],

  openPage: async ({ browser, baseURL, browserErrors }, use) => {
    const opened: BrowserContext[] = [];
    await use(async (label, options = {}) => {
      const context = await browser.newContext({ baseURL, ...options });
      browserErrors.watch(context, label);
      opened.push(context);
      return context.newPage();
    });
    for (const context of opened) await context.close();
  },
});

// ---------------------------------------------------------------------------------------------
// Session helpers
// ---------------------------------------------------------------------------------------------

/** Waits until the WASM has hydrated the page (the app then sets body[data-hydrated=true]). */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('body'), 'the page should hydrate (body[data-hydrated=true])').toHaveAttribute(
    'data-hydrated',
    'true',
  );
}

/** Signs in with local sign-in as the demo account shown as `displayName`. */
export async function signIn(page: Page, displayName: string): Promise<void> {
  await page.goto('/signin');
  const button = page.getByRole('button', { name: `Sign in as ${displayName}` });
  await expect(
    button,
    `/signin should offer "Sign in as ${displayName}" (is local sign-in enabled on the server?)`,
  ).toBeVisible();
  await button.click();
  await expect(page.getByTestId('whoami')).toHaveText(displayName);
}

/** Signs out with the header's "Sign out" button. */
export async function signOut(page: Page): Promise<void> {
  // Let the page's last reads finish first (a run page reads the request once more when its
  // run ends): one still in flight when the session ends is answered 401, which Chromium logs.
  await page.waitForLoadState('networkidle', { timeout: 3_000 }).catch(() => {});
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/signin(\?|$)/);
  await expect(page.getByTestId('whoami')).toHaveCount(0);
}

// ---------------------------------------------------------------------------------------------
// The request form
// ---------------------------------------------------------------------------------------------

/** The visible labels of the request form's fields. */
export const LABELS = {
  siteId: 'Lync site (SiteId)',
  registrar: 'Lync registrar pool FQDN',
  owaPool: 'OWA trusted application pool FQDN',
  applicationId: 'Application ID',
  port: 'Port',
  thumbprint: 'Exchange certificate thumbprint',
  policies: 'Policy names',
  justification: 'Justification',
  windowStart: 'Change window start (UTC, optional)',
  windowEnd: 'Change window end (UTC, optional)',
} as const;

export type RequestValues = {
  siteId: string;
  registrar: string;
  owaPool: string;
  applicationId: string;
  port: string;
  thumbprint: string;
  /** "named" (These policies) or "all" (All policies). */
  policyScope: 'named' | 'all';
  policies: string;
  justification: string;
  windowStart: string;
  windowEnd: string;
};

/**
 * The SiteId of the site in the environment the e2e server plans against (the sample Litware
 * facts): requests must name a discovered site to pass preflight. Tests tell their requests
 * apart by request number.
 */
export const SITE_ID = 'Redmond';

/** A thumbprint as the certificate dialog shows it; stored as THUMBPRINT_NORMALIZED. */
export const THUMBPRINT_PASTED = '\u200eea 5a 33 24 96 cc 05 da 69 b7 5b 66 11 1c 0f 78 a1 10 d2 2d';
export const THUMBPRINT_NORMALIZED = 'EA5A332496CC05DA69B75B66111C0F78A110D22D';

/** A complete, valid request for a fresh site. */
export function validRequest(overrides: Partial<RequestValues> = {}): Partial<RequestValues> {
  return {
    siteId: SITE_ID,
    registrar: 'atl-cs-001.litwareinc.com',
    owaPool: 'atl-owa-001.litwareinc.com',
    applicationId: 'OutlookWebApp',
    port: '5199',
    thumbprint: THUMBPRINT_NORMALIZED,
    policyScope: 'named',
    policies: 'Default',
    justification: 'Enable instant messaging in OWA for the end-to-end test site.',
    ...overrides,
  };
}

/** The form control labelled `label` (exact label text). */
export function input(page: Page, label: string): Locator {
  return page.getByLabel(label, { exact: true });
}

/** The `.field` container of the control labelled `label`. */
export function field(page: Page, label: string): Locator {
  return page.locator('div.field').filter({ has: page.getByLabel(label, { exact: true }) });
}

/** The validation message (<p class="error">) shown under the control labelled `label`. */
export function fieldError(page: Page, label: string): Locator {
  return field(page, label).locator('p.error');
}

/** Fills the request form by label; fields left out of `values` are not touched. */
export async function fillRequest(page: Page, values: Partial<RequestValues>): Promise<void> {
  const text: Array<[keyof typeof LABELS, string | undefined]> = [
    ['siteId', values.siteId],
    ['registrar', values.registrar],
    ['owaPool', values.owaPool],
    ['applicationId', values.applicationId],
    ['port', values.port],
    ['thumbprint', values.thumbprint],
  ];
  for (const [key, value] of text) {
    if (value !== undefined) await input(page, LABELS[key]).fill(value);
  }
  if (values.policyScope !== undefined) {
    const choice = values.policyScope === 'all' ? 'All policies' : 'These policies';
    await page.getByRole('radio', { name: choice, exact: true }).check();
  }
  if (values.policies !== undefined) await input(page, LABELS.policies).fill(values.policies);
  if (values.justification !== undefined) await input(page, LABELS.justification).fill(values.justification);
  if (values.windowStart !== undefined) await input(page, LABELS.windowStart).fill(values.windowStart);
  if (values.windowEnd !== undefined) await input(page, LABELS.windowEnd).fill(values.windowEnd);
}

// ---------------------------------------------------------------------------------------------
// The request page
// ---------------------------------------------------------------------------------------------

/** The state badge in the request page's heading. */
export function stateBadge(page: Page): Locator {
  return page.locator('.page-head .badge:not([data-testid="change-status"])');
}

/** The value shown beside `term` in the request's "What is requested" list. */
export function requestValue(page: Page, term: string): Locator {
  return page.locator('dl.values').getByText(term, { exact: true }).locator('xpath=following-sibling::dd[1]');
}

/**
 * Does a destructive action behind its confirmation step: unfolds `opener` (which only says
 * what will happen), then presses `confirm`.
 */
export async function confirmAction(page: Page, opener: string, confirm: string): Promise<void> {
  await page.locator('details.confirm > summary', { hasText: opener }).click();
  await button(page, confirm).click();
}

/** A button by its exact accessible name. */
export function button(page: Page, name: string): Locator {
  return page.getByRole('button', { name, exact: true });
}

/** The request number of the request page that `page` shows. */
export function requestIdFromUrl(page: Page): number {
  const match = new URL(page.url()).pathname.match(/^\/requests\/(\d+)$/);
  if (!match) throw new Error(`expected a request page URL (/requests/<id>), got ${page.url()}`);
  return Number(match[1]);
}

/** Opens the request page of request `id` and waits until it is interactive. */
export async function openRequest(page: Page, id: number): Promise<void> {
  await page.goto(`/requests/${id}`);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`Request #${id}`);
}

/** These tests expect a request to be approved by one approval (approval.quorum = 1). */
export async function expectQuorumOfOne(page: Page): Promise<void> {
  await expect(
    page.locator('.page-head + p.meta'),
    'the e2e server must run with approval.quorum = 1',
  ).toContainText(/ of 1 approvals/);
}

/**
 * As the signed-in requester: files a valid request as a draft and lands on its page.
 * Returns the request number and its site ID.
 */
export async function fileRequest(
  page: Page,
  overrides: Partial<RequestValues> = {},
): Promise<{ id: number; siteId: string }> {
  const values = validRequest(overrides);
  await page.goto('/requests/new');
  await waitForHydration(page);
  await fillRequest(page, values);
  await button(page, 'Save draft').click();
  await expect(page).toHaveURL(/\/requests\/\d+(\?done=saved)?$/);
  await expect(page.getByTestId('outcome')).toHaveText('Draft saved. Review its plan below, then submit it for approval.');
  // The confirmation takes the focus, so the keyboard starts from it.
  await expect(page.getByTestId('outcome')).toBeFocused();
  const id = requestIdFromUrl(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`Request #${id}`);
  await expect(stateBadge(page)).toHaveText('Draft');
  return { id, siteId: values.siteId! };
}

/** On the request page, as its requester: submits the draft for approval. */
export async function submitForApproval(page: Page): Promise<void> {
  await waitForHydration(page);
  await button(page, 'Submit for approval').click();
  await expect(stateBadge(page)).toHaveText('Awaiting approval');
  await expect(page.getByTestId('outcome')).toHaveText(/^Submitted: waiting for approval by \d+ approvers? other than you\.$/);
}

/** As the signed-in requester: files a valid request and submits it for approval. */
export async function fileAndSubmitRequest(
  page: Page,
  overrides: Partial<RequestValues> = {},
): Promise<{ id: number; siteId: string }> {
  const filed = await fileRequest(page, overrides);
  await submitForApproval(page);
  return filed;
}
