/**
 * The configs that load the released Cheff files, with the reference's field
 * names. A `--config` file or a checkpoint's stored config takes precedence.
 */

/** KL autoencoder (`cheff_autoencoder.pt`, and `first_stage_model.` inside the LDM files). */
export const CHEFF_AE = {
  embed_dim: 3,
  ddconfig: {
    double_z: true,
    z_channels: 3,
    resolution: 256,
    in_channels: 3,
    out_ch: 3,
    ch: 128,
    ch_mult: [1, 2, 4],
    num_res_blocks: 2,
    attn_resolutions: [],
    dropout: 0.0,
  },
};

/** The latent schedule every Cheff LDM uses. */
const LATENT_SCHEDULE = { timesteps: 1000, linear_start: 0.0015, linear_end: 0.0295 };

/**
 * Unconditional latent diffusion (`cheff_diff_uncond.pt`). channel_mult is
 * [1, 2, 3, 4] as the released weights have it; the reference's YAML file says
 * [1, 2, 4, 4] and does not load them.
 */
export const CHEFF_LDM_UNCOND = {
  ...LATENT_SCHEDULE,
  scale_factor: 1.0,
  unet_config: {
    image_size: 64,
    in_channels: 3,
    out_channels: 3,
    model_channels: 224,
    attention_resolutions: [8, 4, 2],
    num_res_blocks: 2,
    channel_mult: [1, 2, 3, 4],
    num_head_channels: 32,
  },
  first_stage_config: CHEFF_AE,
};

/** Report-conditioned latent diffusion (`cheff_diff_t2i.pt`) with its BERT-style text encoder. */
export const CHEFF_LDM_T2I = {
  ...LATENT_SCHEDULE,
  scale_factor: 0.18215,
  unet_config: {
    image_size: 64,
    in_channels: 3,
    out_channels: 3,
    model_channels: 224,
    attention_resolutions: [8, 4, 2],
    num_res_blocks: 2,
    channel_mult: [1, 2, 4, 4],
    num_heads: 8,
    use_spatial_transformer: true,
    transformer_depth: 1,
    context_dim: 1280,
    use_checkpoint: true,
    legacy: false,
  },
  first_stage_config: CHEFF_AE,
  cond_stage_config: { n_embed: 1280, n_layer: 32, vocab_size: 30522, max_seq_len: 150 },
};

/** SR3-style super-resolution U-Net (`cheff_sr_base.pt`, `cheff_sr_fine.pt`). */
export const CHEFF_SR = {
  model: {
    dim: 16,
    dim_mults: [1, 2, 4, 8, 16, 32, 32, 32],
    channels: 2,
    out_dim: 1,
    num_attention_layer: 5,
    block_groups: 8,
  },
  schedule: { timesteps: 2000, s: 0.008 },
};

export const PRESETS: Record<string, unknown> = {
  "cheff-ae": CHEFF_AE,
  "cheff-ldm-uncond": CHEFF_LDM_UNCOND,
  "cheff-ldm-t2i": CHEFF_LDM_T2I,
  "cheff-sr": CHEFF_SR,
};
