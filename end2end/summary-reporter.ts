import type {
  FullConfig,
  FullResult,
  Reporter,
  Suite,
  TestError,
} from '@playwright/test/reporter';

/**
 * Prints one closing line, exactly `N passed, M failed` (plus `, K skipped` when any were
 * skipped), on its own line. CI tooling reads that line, so keep its format.
 *
 * A test counts by its final outcome. When the run itself failed outside any test (a spec
 * that does not load, a global error) and no test failed, that error is counted as one
 * failure so the closing line never reads as a clean run.
 */
export default class SummaryReporter implements Reporter {
  private suite: Suite | undefined;
  private runErrors = 0;

  onBegin(_config: FullConfig, suite: Suite): void {
    this.suite = suite;
  }

  onError(_error: TestError): void {
    this.runErrors += 1;
  }

  onEnd(result: FullResult): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const test of this.suite?.allTests() ?? []) {
      switch (test.outcome()) {
        case 'expected':
        case 'flaky':
          passed += 1;
          break;
        case 'unexpected':
          failed += 1;
          break;
        case 'skipped':
          skipped += 1;
          break;
      }
    }
    if (failed === 0 && result.status !== 'passed') {
      const why = this.runErrors > 0 ? `${this.runErrors} error(s) outside tests` : `run ${result.status}`;
      process.stdout.write(`summary: the run did not pass (${why})\n`);
      failed = 1;
    }
    const line = `${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : '');
    process.stdout.write(`\n${line}\n`);
  }

  printsToStdio(): boolean {
    return true;
  }
}
