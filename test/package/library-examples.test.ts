/**
 * examples/library's own unit test (a program on the Kstlib service, tested on kstlib/testing's
 * in-memory backends under the TestClock), run with the suite. It imports "kstlib" as a consumer
 * does: the built package (`npm run build` first).
 */
import "../../examples/library/deploy.test.ts"
