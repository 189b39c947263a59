/** The registry of dataset adapters, by config name. */
import { brax } from "./brax.ts";
import { chestXray14 } from "./chestx_ray14.ts";
import { chexpert } from "./chexpert.ts";
import { mimicCxr } from "./mimic_cxr.ts";
import { objectCxr } from "./object_cxr.ts";
import { openI } from "./openi.ts";
import { padchest } from "./padchest.ts";
import { rsnaPneumonia } from "./rsna_pneumonia.ts";
import { siimAcr } from "./siim_acr.ts";
import type { Adapter } from "./types.ts";
import { vindrCxr } from "./vindr_cxr.ts";

export const ADAPTERS: Record<string, Adapter> = Object.fromEntries(
  [chestXray14, chexpert, mimicCxr, padchest, brax, vindrCxr, rsnaPneumonia, openI, siimAcr, objectCxr].map(
    (adapter) => [adapter.name, adapter],
  ),
);
