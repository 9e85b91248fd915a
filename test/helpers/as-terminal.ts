/**
 * Imported first by tests that render the App under ink's live renderer: ink reads CI and
 * CONTINUOUS_INTEGRATION once, when it is first imported, and in CI it draws only the last
 * frame at unmount. The TUI itself drops both before it starts (cli.tsx), so a test of its
 * frames must too, or it passes on a laptop and times out under `CI=true bash .ci/run`.
 */
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;
