/**
 * Reconstruction values reported for the released Cheff models in Weber et al.,
 * "Cascaded Latent Diffusion Models for High-Resolution Chest X-ray Synthesis"
 * (PAKDD 2023), reconstruction table. cheff prints them next to its own
 * measurements for comparison. They describe the authors' released weights on
 * their test set, not the model a user evaluates.
 */

/** One row of the paper's table: MSE and PSNR (dB) on [0, 1] images, SSIM. */
export interface PaperRow {
  model: string;
  mse: number;
  psnr: number;
  ssim: number;
}

/** The paper's rows for each measured stage: autoencoder at 256 px, SR 256 → 1024 px, and the whole chain. */
export const PAPER_RECONSTRUCTION: Record<"autoencoder" | "superResolution" | "chain", PaperRow[]> = {
  autoencoder: [{ model: "released autoencoder", mse: 0.0005, psnr: 36.80, ssim: 0.9926 }],
  superResolution: [
    { model: "released SR, base", mse: 0.0039, psnr: 24.05, ssim: 0.9512 },
    { model: "released SR, fine-tuned", mse: 0.0026, psnr: 25.77, ssim: 0.9510 },
  ],
  chain: [
    { model: "released chain, base SR", mse: 0.0035, psnr: 24.59, ssim: 0.9540 },
    { model: "released chain, fine-tuned SR", mse: 0.0025, psnr: 26.09, ssim: 0.9559 },
  ],
};
