// Puts a transparent cutout on a solid colour in the browser, for the result
// screen's background switch: the download then matches what the user sees.

/** Resolves to a PNG of `cutout` over `color` ("#rrggbb"). */
export async function composeOnColor(cutout: Blob, color: string): Promise<Blob> {
  const bitmap = await createImageBitmap(cutout);
  try {
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('This browser cannot draw the image.');
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0);
    return await new Promise<Blob>((resolve, reject) => {
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('The image is too large to recolour here.'))), 'image/png');
    });
  } finally {
    bitmap.close();
  }
}
