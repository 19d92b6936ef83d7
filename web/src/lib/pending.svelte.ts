/**
 * A form action's state: `busy` while it runs (to disable the button), and the message a
 * person can act on when it fails (the server's `message`, from errorMessage).
 */
import { errorMessage } from '$lib/api';

export class Pending {
  busy = $state(false);
  error = $state<string | null>(null);

  /** Runs `action`; true when it succeeded, false when it failed (and `error` says why). */
  async run(action: () => Promise<void>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      await action();
      return true;
    } catch (e) {
      this.error = errorMessage(e);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
