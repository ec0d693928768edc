// Filing a request: bad values are reported beside each field and nothing typed is lost;
// fixed values are saved (normalized) and the draft can be submitted for approval.

import type { Page } from '@playwright/test';
import {
  LABELS,
  THUMBPRINT_NORMALIZED,
  THUMBPRINT_PASTED,
  USERS,
  button,
  expect,
  field,
  fieldError,
  fillRequest,
  input,
  requestIdFromUrl,
  requestValue,
  signIn,
  stateBadge,
  test,
  SITE_ID,
  waitForHydration,
} from './fixtures';

const BAD = {
  siteId: 'Red mond',
  registrar: 'atl-cs-001',
  owaPool: 'atl-owa-001.litwareinc.com',
  port: '70000',
  thumbprint: 'xyz',
  justification: 'short',
};

/** The URL is still the form's (a failed plain-form post comes back with error details in the query). */
const ON_NEW_REQUEST_FORM = /\/requests\/new(\?|$)/;

/** Asserts that every bad field shows its message and every typed value is still there. */
async function expectBadValuesReported(page: Page): Promise<void> {
  const expected: Array<[string, RegExp]> = [
    [LABELS.siteId, /remove a space/],
    [LABELS.registrar, /fully qualified name/],
    [LABELS.port, /from 1 to 65535/],
    [LABELS.thumbprint, /hexadecimal/],
    [LABELS.justification, /at least 10 characters/],
  ];
  for (const [label, message] of expected) {
    await expect(fieldError(page, label), `error under "${label}"`).toHaveText(message);
    await expect(field(page, label), `"${label}" marked invalid`).toHaveClass(/\bfield-invalid\b/);
    await expect(input(page, label)).toHaveAttribute('aria-invalid', 'true');
  }
  // The valid OWA pool FQDN gets no message.
  await expect(fieldError(page, LABELS.owaPool)).toHaveCount(0);
  await expect(field(page, LABELS.owaPool)).not.toHaveClass(/\bfield-invalid\b/);

  // What was typed is kept, exactly.
  await expect(input(page, LABELS.siteId)).toHaveValue(BAD.siteId);
  await expect(input(page, LABELS.registrar)).toHaveValue(BAD.registrar);
  await expect(input(page, LABELS.owaPool)).toHaveValue(BAD.owaPool);
  await expect(input(page, LABELS.port)).toHaveValue(BAD.port);
  await expect(input(page, LABELS.thumbprint)).toHaveValue(BAD.thumbprint);
  await expect(input(page, LABELS.justification)).toHaveValue(BAD.justification);

  // The summary lists every bad field, in the form's order, each a link to its field.
  const summary = page.getByTestId('error-summary');
  await expect(summary).toContainText('Some fields need attention');
  await expect(summary.getByRole('link')).toHaveText([
    /^Lync site \(SiteId\): .*remove a space/,
    /^Lync registrar pool FQDN: .*fully qualified name/,
    /^Port: .*from 1 to 65535/,
    /^Exchange certificate thumbprint: .*hexadecimal/,
    /^Justification: .*at least 10 characters/,
  ]);
  for (const link of await summary.getByRole('link').all()) {
    const target = (await link.getAttribute('href'))!;
    await expect(page.locator(target), `${target} is a field on the page`).toHaveCount(1);
  }
  await expect(page).toHaveURL(ON_NEW_REQUEST_FORM);
}

/** Replaces the bad values with good ones (the thumbprint as pasted from the certificate dialog). */
async function fixBadValues(page: Page, siteId: string): Promise<void> {
  await fillRequest(page, {
    siteId,
    registrar: 'atl-cs-001.litwareinc.com',
    port: '5199',
    thumbprint: THUMBPRINT_PASTED,
    justification: 'Enable IM in Outlook Web App for the e2e test site.',
  });
}

/** Asserts the saved request page shows the stored, normalized values. */
async function expectSavedRequest(page: Page, siteId: string): Promise<number> {
  await expect(page).toHaveURL(/\/requests\/\d+(\?done=saved)?$/);
  const id = requestIdFromUrl(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Request #${id} · ${siteId}`);
  await expect(stateBadge(page)).toHaveText('Draft');
  await expect(requestValue(page, 'Certificate thumbprint')).toHaveText(THUMBPRINT_NORMALIZED);
  await expect(requestValue(page, 'Lync registrar pool')).toHaveText('atl-cs-001.litwareinc.com');
  await expect(requestValue(page, 'Port')).toHaveText('5199');
  // The draft carries its plan, decided against the environment, before it is submitted.
  const plan = page.locator('section.plan');
  await expect(plan).toContainText('Preflight: every check passed');
  await expect(plan).toContainText(
    "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com' -Site 'Redmond' -RequiresReplication $False",
  );
  return id;
}

test('Alice files a request: errors beside each bad field, values kept, then saved and submitted', async ({
  page,
  browserErrors,
}) => {
  // The failed save is a refused server function call, which Chromium logs.
  browserErrors.expectRefusedApiCalls();
  await signIn(page, USERS.alice);

  await page.goto('/requests/new');
  await waitForHydration(page);
  await fillRequest(page, BAD);
  await button(page, 'Save draft').click();
  await expectBadValuesReported(page);
  // Focus lands on the summary, and its links take the keyboard to the field.
  await expect(page.getByTestId('error-summary')).toBeFocused();
  await page.getByTestId('error-summary').getByRole('link', { name: /^Port:/ }).click();
  await expect(input(page, LABELS.port)).toBeFocused();

  const siteId = SITE_ID;
  await fixBadValues(page, siteId);
  // With JavaScript, the plan is previewed live once every field is valid.
  await expect(page.getByTestId('plan-preview')).toContainText(
    'Create the trusted application pool atl-owa-001.litwareinc.com',
  );
  await button(page, 'Save draft').click();
  await expectSavedRequest(page, siteId);

  await button(page, 'Submit for approval').click();
  await expect(stateBadge(page)).toHaveText('Awaiting approval');
});

test('without JavaScript the plain form reports errors, keeps the values and saves the fix', async ({
  openPage,
}) => {
  const page = await openPage('the browser without JavaScript', { javaScriptEnabled: false });
  await signIn(page, USERS.alice);

  await page.goto('/requests/new');
  await fillRequest(page, BAD);
  await button(page, 'Save draft').click();
  await expectBadValuesReported(page);
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');

  const siteId = SITE_ID;
  await fixBadValues(page, siteId);
  await button(page, 'Save draft').click();
  await expectSavedRequest(page, siteId);
});
