// Every page and state the portal shows, as each kind of visitor meets it: no WCAG 2.1 AA
// violation that axe-core can find, in the light and the dark colour scheme, and no sideways
// scrolling on a phone 390 pixels wide (long values wrap or scroll inside their own box).

import AxeBuilder from '@axe-core/playwright';
import {
  USERS,
  button,
  expect,
  fileAndSubmitRequest,
  fileRequest,
  openRequest,
  signIn,
  signOut,
  stateBadge,
  test,
  waitForHydration,
} from './fixtures';
import type { Page } from '@playwright/test';

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

/** Fails with every axe-core WCAG 2.1 A/AA violation on the page, in light and dark. */
async function expectAccessible(page: Page, state: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const results = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    const violations = results.violations.map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help}\n` +
        v.nodes
          .slice(0, 6)
          .map((n) => `      ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`)
          .join('\n'),
    );
    expect(violations, `axe on ${state} (${colorScheme})`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Fails when the page is wider than a 390-pixel phone, naming the elements that stick out. */
async function expectFitsPhone(page: Page, state: string): Promise<void> {
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const all = [...document.querySelectorAll('body *')];
    const sticksOut = (el: Element) => el.getBoundingClientRect().right > width + 1;
    // Boxes past the edge (the innermost ones: what pushes the page wider), and text that
    // overflows a box that does not scroll.
    const overflowsText = (el: Element) =>
      el.scrollWidth > el.clientWidth + 1 &&
      getComputedStyle(el).overflowX === 'visible' &&
      el.getBoundingClientRect().left + el.scrollWidth > width + 1;
    const wide = all
      .filter((el) => (sticksOut(el) && ![...el.children].some(sticksOut)) || overflowsText(el))
      .slice(0, 8)
      .map((el) => {
        const name = (e: Element) =>
          `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + String(e.className).trim().replace(/\s+/g, '.') : ''}`;
        const parent = el.parentElement ? name(el.parentElement) + ' > ' : '';
        return `${parent}${name(el)} (right edge ${Math.round(el.getBoundingClientRect().right)} px)`;
      });
    return { scrollWidth: document.documentElement.scrollWidth, width, wide };
  });
  expect(
    overflow.scrollWidth,
    `${state} at 390 px is ${overflow.scrollWidth} px wide; sticking out: ${overflow.wide.join(', ')}`,
  ).toBeLessThanOrEqual(overflow.width);
  await page.setViewportSize(DESKTOP);
}

/** Both checks on the page as it is now. */
async function check(page: Page, state: string): Promise<void> {
  await waitForHydration(page);
  await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {});
  await expectAccessible(page, state);
  await expectFitsPhone(page, state);
}

test('every page is accessible and fits a phone, for each kind of visitor', async ({ page, browserErrors }) => {
  test.setTimeout(240_000);
  // A form submitted with errors is a refused call; a missing request answers 404.
  browserErrors.expectRefusedApiCalls();
  browserErrors.expectRefusedPage('/requests/999999');
  await page.setViewportSize(DESKTOP);

  await page.goto('/signin');
  await check(page, 'the sign-in page');

  // A requester: the form empty and with errors, a draft, a request waiting for approval.
  await signIn(page, USERS.alice);
  await page.goto('/requests/new');
  await check(page, 'the empty request form');
  await button(page, 'Save draft').click();
  await expect(page.getByTestId('error-summary')).toBeVisible();
  await check(page, 'the request form with errors');
  const draft = await fileRequest(page);
  await check(page, 'a draft request');
  const { id } = await fileAndSubmitRequest(page);
  await check(page, 'a request waiting for approval');
  await page.goto('/');
  await check(page, "a requester's dashboard");
  await signOut(page);

  // An approver: the inbox, the decision, the run that follows.
  await signIn(page, USERS.bob);
  await page.goto('/approvals');
  await check(page, 'the approvals inbox');
  await openRequest(page, id);
  await check(page, 'a request to decide on');
  await button(page, 'Approve').click();
  await expect(stateBadge(page)).toHaveText('Approved');
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
  // The next checks are listed while event 112 is missing (the lab may already have logged it).
  const next = page.getByTestId('next-checks');
  if ((await next.count()) > 0) await next.first().locator('summary').click();
  await check(page, 'a request after its run, with the next checks open');
  await page.goto('/requests');
  await check(page, 'the requests list');
  // The key columns of a request stay in view on a phone.
  await page.setViewportSize(PHONE);
  const row = page.locator('tbody tr').first();
  for (const label of ['Site', 'Requester', 'State', 'Updated']) {
    await expect(row.locator(`td[data-label="${label}"]`), `${label} on a phone`).toBeInViewport();
  }
  await page.setViewportSize(DESKTOP);
  await signOut(page);

  // Helpdesk: people and the lab.
  await signIn(page, USERS.hana);
  await page.goto('/people');
  await check(page, 'the people page');
  await page.getByLabel('Person').fill('user0027');
  await button(page, 'Check').click();
  await expect(page).toHaveURL(/\/people\/checks\/\d+$/);
  await check(page, "a person's eligibility check");
  await page.goto('/people');
  await waitForHydration(page);
  await page.getByLabel('A list of people (pasted, or a CSV file)').check();
  await page
    .getByLabel('People', { exact: true })
    .fill('user0001@litwareinc.com\nuser0029@litwareinc.com\nnobody@litwareinc.com');
  await button(page, 'Start bulk check').click();
  await expect(page).toHaveURL(/\/people\/scans\/\d+$/);
  await expect(page.getByTestId('scan-status')).toContainText('Finished', { timeout: 30_000 });
  await check(page, 'a finished bulk check, with a line it could not check');
  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByLabel('Sign in to OWA as').fill('user0013@litwareinc.com');
  await button(page, 'Sign in').click();
  await expect(page.getByTestId('signin-result').first()).toContainText('user0013@litwareinc.com');
  await check(page, 'the lab with a sign-in result');
  await signOut(page);

  // An auditor and an admin.
  await signIn(page, USERS.dave);
  await page.goto('/audit');
  await check(page, 'the audit log');
  await page.goto(`/requests/${draft.id}`);
  await check(page, "a draft as an auditor sees it");
  await page.goto('/requests/999999');
  await expect(page.getByTestId('not-found')).toBeVisible();
  await check(page, 'a request that does not exist');
  await signOut(page);
  await signIn(page, USERS.erin);
  await page.goto('/users');
  await check(page, 'the people who use imlink');
  await page.goto('/lab');
  await check(page, 'the lab as an admin');
  await page.goto('/');
  await check(page, "an admin's dashboard");
});
