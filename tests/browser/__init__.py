"""Real-browser journeys in Debian's headless Chromium, driven by Playwright for Python."""
