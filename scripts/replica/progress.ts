/**
 * Progress lines for a long start: one line per phase with the time since the start
 * (`replica: moto started (3.2 s)`), and, while phases are still running and nothing has been said
 * for `quietMs`, a line naming them (`replica: still deploying the stack (20.4 s)`). So a start is
 * never silent for more than ten seconds (issue 11), and a test can check the gaps from the lines.
 */

export interface Progress {
  /** Prints `<prefix>: <message> (<seconds since the start> s)`. */
  say(message: string): void;
  /** Returns `work`; while it runs, `running` is named in the "still" lines; when it succeeds, says `done`. */
  phase<T>(running: string, done: string, work: Promise<T>): Promise<T>;
  /** Stops the "still" lines. Safe to call twice. */
  end(): void;
  /** Every line said so far. */
  readonly lines: readonly string[];
}

export interface ProgressOptions {
  prefix: string;
  /** Where lines go; default stdout. */
  write?: (line: string) => void;
  quietMs?: number;
  now?: () => number;
}

/** The pattern of a progress line's elapsed time, for tests: `(12.3 s)` at the end of the line. */
export const elapsedPattern = /\((\d+(?:\.\d+)?) s\)$/;

/** Starts counting now; returns the progress of one long operation. */
export function createProgress({ prefix, write = (line) => console.log(line), quietMs = 8_000, now = Date.now }: ProgressOptions): Progress {
  const began = now();
  let lastSaid = began;
  const lines: string[] = [];
  const running = new Map<number, string>();
  let nextId = 0;

  const say = (message: string): void => {
    const line = `${prefix}: ${message} (${((now() - began) / 1000).toFixed(1)} s)`;
    lastSaid = now();
    lines.push(line);
    write(line);
  };
  // Checked every second, so a "still" line comes between quietMs and quietMs + 1 s after the last line.
  const ticker = setInterval(() => {
    if (running.size > 0 && now() - lastSaid >= quietMs) say(`still ${[...new Set(running.values())].join(', ')}`);
  }, 1_000);
  ticker.unref();

  return {
    say,
    async phase(name, done, work) {
      const id = nextId++;
      running.set(id, name);
      try {
        const result = await work;
        running.delete(id);
        say(done);
        return result;
      } finally {
        running.delete(id);
      }
    },
    end: () => clearInterval(ticker),
    lines,
  };
}
