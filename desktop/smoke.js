// The desktop app's test run (-smoke), executed inside the page. It does what a user does: drops the photo on the
// window, waits for the cutout to be shown, and presses "Download PNG"; the Go side answers the save dialog. Each
// step is reported to Go as the event "smoke:page". __SMOKE_CONFIG__ is filled in by smoke.go.
(async (cfg) => {
  const report = (step, data) => window.runtime.EventsEmit('smoke:page', Object.assign({ step }, data || {}));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const waitFor = async (what, probe, ms) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > end) throw new Error('timed out waiting for ' + what);
      await sleep(100);
    }
  };
  const onJobPage = () => location.pathname.startsWith('/wait/');
  try {
    await waitFor('the upload page', () => document.querySelector('#upload-title'), 30000);
    const res = await fetch(cfg.input);
    if (!res.ok) throw new Error('reading the test photo: HTTP ' + res.status);
    const file = new File([await res.blob()], cfg.name, { type: cfg.type });
    const dt = new DataTransfer();
    dt.items.add(file);
    // A drop anywhere on the window, as the page listens for it.
    window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    let how = 'drop';
    try {
      await waitFor('the job page after the drop', onJobPage, 5000);
    } catch {
      // An engine without DragEvent.dataTransfer support: choose the file in the picker instead (the other way a
      // user gives the page a photo).
      how = 'picker';
      const input = document.querySelector('input[type=file]');
      if (!input) throw new Error('no file input on the upload page');
      input.files = dt.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
      await waitFor('the job page after choosing the file', onJobPage, 10000);
    }
    report('submitted', { how, path: location.pathname });
    const link = await waitFor(
      'the result',
      () => {
        const failed = document.querySelector('#failed-title');
        if (failed) throw new Error('the page shows a failure: ' + document.body.innerText.slice(0, 400));
        return document.querySelector('#result-title') && document.querySelector('a[download]');
      },
      cfg.timeoutMs,
    );
    const img = await waitFor(
      'the cutout to be displayed',
      () => Array.from(document.images).find((i) => i.classList.contains('after') && i.complete && i.naturalWidth > 0),
      30000,
    );
    // Let the page finish painting before the screenshot is taken.
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    report('shown', {
      heading: document.querySelector('#result-title').textContent.trim(),
      note: (document.querySelector('.note') || { textContent: '' }).textContent.trim(),
      download: link.getAttribute('download'),
      width: img.naturalWidth,
      height: img.naturalHeight,
    });
    link.click();
    report('clicked');
  } catch (e) {
    report('error', { error: String((e && e.message) || e) });
  }
})(__SMOKE_CONFIG__);
