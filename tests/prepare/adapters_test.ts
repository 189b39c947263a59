/**
 * Each adapter against a miniature copy of its dataset's folder layout and
 * metadata headers: the index is checked field by field, with frontal
 * filtering and label mapping.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { kitTest } from "../kit.ts";
import {
  copy,
  DICOM_PA,
  KIT_FILES,
  NIH_PNGS,
  PNG16,
  readJson,
  readPreparedIndex,
  runConfig,
  tempDir,
  write,
  writeDicomWithView,
  writeGzip,
  writeJpegFrom,
} from "./helpers.ts";

const CHEXPERT_HEADER =
  "No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia," +
  "Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices";

kitTest("chestx-ray14 keeps train/val frontal rows with finding labels", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "ChestX-ray14");
  await write(
    join(root, "Data_Entry_2017_v2020.csv"),
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position," +
      "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]\n" +
      "00000001_001.png,Cardiomegaly|Emphysema,1,1,58,M,PA,2682,2749,0.143,0.143\n" +
      "00000001_002.png,Cardiomegaly|Effusion,2,1,58,M,PA,2894,2729,0.143,0.143\n" +
      "00000003_000.png,Hernia,7,3,81,F,PA,2582,2991,0.143,0.143\n" +
      "00000004_000.png,Mass|Nodule,0,4,82,M,AP,2048,2500,0.168,0.168\n" +
      "00000005_000.png,No Finding,0,5,69,F,LL,2048,2500,0.168,0.168\n",
  );
  await write(
    join(root, "train_val_list.txt"),
    "00000001_001.png\n00000003_000.png\n00000004_000.png\n00000005_000.png\n",
  );
  await write(join(root, "test_list.txt"), "00000001_002.png\n");
  await copy(NIH_PNGS[0], join(root, "images_001/images/00000001_001.png"));
  await copy(NIH_PNGS[1], join(root, "images_001/images/00000001_002.png"));
  await copy(NIH_PNGS[2], join(root, "images_001/images/00000003_000.png"));
  await copy(NIH_PNGS[3], join(root, "images_002/images/00000004_000.png"));
  await copy(NIH_PNGS[4], join(root, "images_002/images/00000005_000.png"));

  await runConfig(dir, { datasets: { "chestx-ray14": { root: "ChestX-ray14" } } });
  const index = await readPreparedIndex(dir, "chestx-ray14");
  const negatives = Array(14).fill(-1);
  const withFindings = (...positions: number[]) => negatives.map((v, i) => (positions.includes(i) ? 1 : v));
  assert.deepEqual(index, {
    "000000": { path: "00/000000.jpg", key: "00000001_001", class_label: withFindings(1, 10) },
    "000001": { path: "00/000001.jpg", key: "00000003_000", class_label: withFindings(13) },
    "000002": { path: "00/000002.jpg", key: "00000004_000", class_label: withFindings(4, 5) },
  });
  const classes = await readJson(join(dir, "out/chestx-ray14/classes.json"));
  assert.equal(classes[1], "Cardiomegaly");
  assert.equal(classes[10], "Emphysema");
});

kitTest("chexpert keeps frontal rows and maps labels", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "CheXpert-v1.0");
  await write(
    join(root, "train.csv"),
    `Path,Sex,Age,Frontal/Lateral,AP/PA,${CHEXPERT_HEADER}\n` +
      "CheXpert-v1.0/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,,,,,1.0\n" +
      "CheXpert-v1.0/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,0.0,,1.0,\n" +
      "CheXpert-v1.0/train/patient00002/study2/view2_lateral.jpg,Female,87,Lateral,,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,0.0,,1.0,\n" +
      "CheXpert-v1.0/train/patient00003/study1/view1_frontal.jpg,Male,41,Frontal,PA,,,,,,0.0,,,,0.0,,,,\n",
  );
  await writeJpegFrom(NIH_PNGS[0], join(root, "train/patient00001/study1/view1_frontal.jpg"));
  await writeJpegFrom(NIH_PNGS[1], join(root, "train/patient00002/study2/view1_frontal.jpg"));
  await writeJpegFrom(NIH_PNGS[2], join(root, "train/patient00002/study2/view2_lateral.jpg"));
  await writeJpegFrom(NIH_PNGS[3], join(root, "train/patient00003/study1/view1_frontal.jpg"));

  await runConfig(dir, { datasets: { chexpert: { root: "CheXpert-v1.0" } } });
  const index = await readPreparedIndex(dir, "chexpert");
  assert.deepEqual(index, {
    "000000": {
      path: "00/000000.jpg",
      key: "train/patient00001/study1/view1_frontal",
      class_label: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    },
    "000001": {
      path: "00/000001.jpg",
      key: "train/patient00002/study2/view1_frontal",
      class_label: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, -1, 0, 1, 0],
    },
    "000002": {
      path: "00/000002.jpg",
      key: "train/patient00003/study1/view1_frontal",
      class_label: [0, 0, 0, 0, 0, -1, 0, 0, 0, -1, 0, 0, 0, 0],
    },
  });
  assert.deepEqual(await readJson(join(dir, "out/chexpert/classes.json")), CHEXPERT_HEADER.split(","));

  const all = await tempDir();
  await Deno.rename(root, join(all, "CheXpert-v1.0"));
  await runConfig(all, { frontal_only: false, datasets: { chexpert: { root: "CheXpert-v1.0" } } });
  const withLateral = await readPreparedIndex(all, "chexpert");
  assert.equal(Object.keys(withLateral).length, 4);
  assert.equal(withLateral["000002"].key, "train/patient00002/study2/view2_lateral");
});

kitTest("mimic-cxr joins views, chexpert labels and report sections", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "mimic-cxr-jpg");
  await writeGzip(
    join(root, "mimic-cxr-2.0.0-metadata.csv.gz"),
    "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,StudyTime," +
      "ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,PatientOrientationCodeSequence_CodeMeaning\n" +
      "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014,10000032,50414267,CHEST (PA AND LAT),PA,3056,2544,21800506,213014.531,CHEST (PA AND LAT),postero-anterior,Erect\n" +
      "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962,10000032,50414267,CHEST (PA AND LAT),LATERAL,3056,2544,21800506,213014.531,CHEST (PA AND LAT),lateral,Erect\n" +
      "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab,10000032,53189527,CHEST (PA AND LAT),AP,3056,2544,21800626,165500.312,CHEST (PORTABLE AP),antero-posterior,\n" +
      "68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714,10000764,57375967,CHEST (PORTABLE AP),AP,3056,2544,21321015,092730.000,CHEST (PORTABLE AP),antero-posterior,\n",
  );
  // The real file lists the observations alphabetically; the adapter must map them by name.
  await write(
    join(root, "mimic-cxr-2.0.0-chexpert.csv"),
    "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture," +
      "Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices\n" +
      "10000032,50414267,,,,,,,,,1.0,,,,,\n" +
      "10000032,53189527,-1.0,1.0,0.0,,,,,,,1.0,,,0.0,\n",
  );
  const study = (subject: string, studyId: string) => `files/p${subject.slice(0, 2)}/p${subject}/s${studyId}`;
  await writeJpegFrom(
    NIH_PNGS[0],
    join(root, study("10000032", "50414267"), "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg"),
  );
  await writeJpegFrom(
    NIH_PNGS[1],
    join(root, study("10000032", "50414267"), "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962.jpg"),
  );
  await writeJpegFrom(
    NIH_PNGS[2],
    join(root, study("10000032", "53189527"), "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab.jpg"),
  );
  await writeJpegFrom(
    NIH_PNGS[3],
    join(root, study("10000764", "57375967"), "68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714.jpg"),
  );
  const reports = join(dir, "mimic-cxr-reports");
  await write(
    join(reports, `${study("10000032", "50414267")}.txt`),
    "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n \n INDICATION:  ___F with cough\n \n" +
      " FINDINGS: \n \n There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral\n nodular opacities.\n \n" +
      " IMPRESSION: \n \n No acute cardiopulmonary process.\n",
  );
  await write(
    join(reports, `${study("10000032", "53189527")}.txt`),
    "                                 FINAL REPORT\n INDICATION:  Shortness of breath.\n \n IMPRESSION:  Cardiomegaly with effusion.\n" +
      " \n NOTIFICATION:  Findings were called to the team.\n",
  );

  await runConfig(dir, {
    datasets: { "mimic-cxr": { root: "mimic-cxr-jpg", reports: "../mimic-cxr-reports" } },
  });
  const index = await readPreparedIndex(dir, "mimic-cxr");
  assert.deepEqual(index, {
    "000000": {
      path: "00/000000.jpg",
      key: "files/p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014",
      report:
        "There is no focal consolidation, pleural effusion or pneumothorax. Bilateral nodular opacities. " +
        "No acute cardiopulmonary process.",
      class_label: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    },
    "000001": {
      path: "00/000001.jpg",
      key: "files/p10/p10000032/s53189527/2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab",
      report: "Cardiomegaly with effusion.",
      class_label: [0, 0, 1, 0, 0, 0, -1, 0, 0, -1, 1, 0, 0, 0],
    },
    "000002": {
      path: "00/000002.jpg",
      key: "files/p10/p10000764/s57375967/68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714",
    },
  });
});

kitTest("padchest keeps PA, AP and AP_horizontal 16-bit PNGs", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "PADCHEST");
  const csv =
    "ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,ViewPosition_DICOM,Projection," +
    "MethodProjection,Labels\n" +
    "216840111366964012283393834152009033102258826_00-059-087.png,0,20090302,s1,p1,1950,M,POSTEROANTERIOR,PA,Manual review of DICOM fields,\"['normal']\"\n" +
    "216840111366964012283393834152009033140208626_00-059-118.png,0,20090302,s1,p1,1950,M,LATERAL,L,Manual review of DICOM fields,\"['normal']\"\n" +
    "216840111366964012339356563862009072111404053_00-043-192.png,1,20090721,s2,p2,1938,F,ANTEROPOSTERIOR,AP_horizontal,Manual review of DICOM fields,\"['cardiomegaly']\"\n" +
    "216840111366964012373310883942009152114636712_00-102-045.png,1,20090601,s3,p3,1944,M,ANTEROPOSTERIOR,AP,Manual review of DICOM fields,\"['pneumonia', 'infiltrates']\"\n";
  await write(join(root, "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"), csv);
  await copy(PNG16, join(root, "0/216840111366964012283393834152009033102258826_00-059-087.png"));
  await copy(PNG16, join(root, "0/216840111366964012283393834152009033140208626_00-059-118.png"));
  await copy(PNG16, join(root, "1/216840111366964012339356563862009072111404053_00-043-192.png"));
  // PadChest has a few files that no decoder reads; this one is truncated.
  const truncated = (await Deno.readFile(PNG16)).subarray(0, 300);
  await Deno.writeFile(
    join(root, "1/216840111366964012373310883942009152114636712_00-102-045.png"),
    truncated,
  );

  const [summary] = await runConfig(dir, { datasets: { padchest: { root: "PADCHEST" } } });
  const index = await readPreparedIndex(dir, "padchest");
  assert.deepEqual(index, {
    "000000": { path: "00/000000.jpg", key: "216840111366964012283393834152009033102258826_00-059-087" },
    "000001": { path: "00/000001.jpg", key: "216840111366964012339356563862009072111404053_00-043-192" },
  });
  assert.equal(summary.skipped, 1);
  const log = await Deno.readTextFile(join(dir, "out/padchest/skipped.log"));
  assert.match(log, /^000002\t216840111366964012373310883942009152114636712_00-102-045\t\S.*\n$/);
});

kitTest("brax keeps AP and PA rows with CheXpert-style labels", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "brax");
  const png = (n: number) => `images/id_${n}/Study_${n}/Series_${n}/ImageID_${n}.png`;
  await write(
    join(root, "master_spreadsheet_update.csv"),
    `DicomPath,PngPath,PatientID,PatientSex,PatientAge,AccessionNumber,StudyDate,${CHEXPERT_HEADER},ViewPosition,Rows,Columns,Manufacturer\n` +
      `${png(1).replace(".png", ".dcm")},${png(1)},a1,M,45-50,x1,20200101,1,,,,,,,,,,,,,,PA,2048,2048,1\n` +
      `${png(2).replace(".png", ".dcm")},${png(2)},a1,M,45-50,x1,20200101,1,,,,,,,,,,,,,,LL,2048,2048,1\n` +
      `${png(3).replace(".png", ".dcm")},${
        png(3)
      },a2,F,60-65,x2,20200102,,,1,-1,,0,,,,,,,,1,AP,2048,2048,2\n`,
  );
  for (const n of [1, 2, 3]) await copy(NIH_PNGS[n], join(root, png(n)));

  await runConfig(dir, { datasets: { brax: { root: "brax" } } });
  assert.deepEqual(await readPreparedIndex(dir, "brax"), {
    "000000": { path: "00/000000.jpg", key: png(1).replace(".png", ""), class_label: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
    "000001": {
      path: "00/000001.jpg",
      key: png(3).replace(".png", ""),
      class_label: [0, 0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 1],
    },
  });
});

kitTest("vindr-cxr reads DICOMs with radiologists' labels", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "vindr-cxr");
  await writeDicomWithView(join(root, "train/000434271f63a053c4128a0ba6352c7f.dicom"), "PA");
  await writeDicomWithView(join(root, "train/00053190460d56c53cc3e57321387478.dicom"), "LL");
  await writeDicomWithView(join(root, "train/0005e8e3701dfb1dd93d53e2ff537b6e.dicom"), "PA");
  await writeDicomWithView(join(root, "test/002a34c58c5b758217ed1f584ccbcfe9.dicom"), "PA");
  await write(
    join(root, "annotations/image_labels_train.csv"),
    "image_id,rad_id,Aortic enlargement,Cardiomegaly,Pleural effusion,No finding\n" +
      "000434271f63a053c4128a0ba6352c7f,R2,0,0,0,1\n" +
      "000434271f63a053c4128a0ba6352c7f,R3,0,1,0,0\n" +
      "000434271f63a053c4128a0ba6352c7f,R6,0,0,0,1\n" +
      "0005e8e3701dfb1dd93d53e2ff537b6e,R1,1,0,1,0\n",
  );

  await runConfig(dir, { datasets: { "vindr-cxr": { root: "vindr-cxr" } } });
  assert.deepEqual(await readPreparedIndex(dir, "vindr-cxr"), {
    "000000": { path: "00/000000.jpg", key: "000434271f63a053c4128a0ba6352c7f", class_label: [-1, 1, -1, 1] },
    "000001": { path: "00/000001.jpg", key: "0005e8e3701dfb1dd93d53e2ff537b6e", class_label: [1, -1, 1, -1] },
  });
  assert.deepEqual(await readJson(join(dir, "out/vindr-cxr/classes.json")), [
    "Aortic enlargement",
    "Cardiomegaly",
    "Pleural effusion",
    "No finding",
  ]);
});

kitTest("rsna-pneumonia filters by DICOM view and merges boxes", [DICOM_PA], async () => {
  const dir = await tempDir();
  const root = join(dir, "rsna");
  await write(
    join(root, "stage_2_train_labels.csv"),
    "patientId,x,y,width,height,Target\n" +
      "0004cfab-14fd-4e49-80ba-63a80b6bddd6,,,,,0\n" +
      "00436515-870c-4b36-a041-de91049b9ab4,264.0,152.0,213.0,379.0,1\n" +
      "00436515-870c-4b36-a041-de91049b9ab4,562.0,152.0,256.0,453.0,1\n" +
      "00322d4d-1c29-4943-afc9-b6754be640eb,,,,,0\n" +
      "003d8fa0-6bf1-40ed-b54c-ac657f8495c5,,,,,0\n",
  );
  await writeDicomWithView(join(root, "stage_2_train_images/0004cfab-14fd-4e49-80ba-63a80b6bddd6.dcm"), "PA");
  await writeDicomWithView(join(root, "stage_2_train_images/00436515-870c-4b36-a041-de91049b9ab4.dcm"), "AP");
  await writeDicomWithView(join(root, "stage_2_train_images/00322d4d-1c29-4943-afc9-b6754be640eb.dcm"), "LL");
  // The fourth patient's image is missing, which is logged, not fatal.

  await runConfig(dir, { datasets: { "rsna-pneumonia": { root: "rsna" } } });
  assert.deepEqual(await readPreparedIndex(dir, "rsna-pneumonia"), {
    "000000": { path: "00/000000.jpg", key: "0004cfab-14fd-4e49-80ba-63a80b6bddd6", class_label: [-1] },
    "000001": { path: "00/000001.jpg", key: "00436515-870c-4b36-a041-de91049b9ab4", class_label: [1] },
  });
  const log = await Deno.readTextFile(join(dir, "out/rsna-pneumonia/skipped.log"));
  assert.equal(log, "-\t003d8fa0-6bf1-40ed-b54c-ac657f8495c5\tfile not found\n");
});

const OPENI_REPORT = (uid: number, images: string[], findings: string, impression: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<eCitation>\n<meta type="rr"/>\n<uId id="CXR${uid}"/>\n` +
  `<MedlineCitation Owner="Indiana University" Status="supplied"><Article PubModel="Electronic"><Abstract>\n` +
  `<AbstractText Label="COMPARISON">None.</AbstractText>\n<AbstractText Label="INDICATION">Positive TB test</AbstractText>\n` +
  `<AbstractText Label="FINDINGS">${findings}</AbstractText>\n<AbstractText Label="IMPRESSION">${impression}</AbstractText>\n` +
  `</Abstract></Article></MedlineCitation>\n` +
  images.map((id) =>
    `<parentImage id="${id}"><figureId>F1</figureId><caption>Xray Chest PA and Lateral</caption></parentImage>\n`
  )
    .join("") +
  `</eCitation>\n`;

async function writeOpenI(root: string) {
  await write(
    join(root, "ecgen-radiology/1.xml"),
    OPENI_REPORT(
      1,
      ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"],
      "The cardiac silhouette and mediastinum size are within normal limits.",
      "Normal chest x-XXXX.",
    ),
  );
  await write(
    join(root, "ecgen-radiology/2.xml"),
    OPENI_REPORT(2, ["CXR2_IM-0652-1001"], "Borderline cardiomegaly. Midline sternotomy &amp; XXXX.", ""),
  );
  await copy(NIH_PNGS[0], join(root, "NLMCXR_png/CXR1_1_IM-0001-3001.png"));
  await copy(NIH_PNGS[1], join(root, "NLMCXR_png/CXR1_1_IM-0001-4001.png"));
  await copy(NIH_PNGS[2], join(root, "NLMCXR_png/CXR2_IM-0652-1001.png"));
  await write(
    join(root, "projections.csv"),
    "uid,filename,projection\n1,CXR1_1_IM-0001-3001.dcm.png,Frontal\n1,CXR1_1_IM-0001-4001.dcm.png,Lateral\n2,CXR2_IM-0652-1001.dcm.png,Frontal\n",
  );
}

kitTest("openi keeps frontal images from a projection list with reports", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeOpenI(join(dir, "openi"));
  await runConfig(dir, { datasets: { openi: { root: "openi", projections: "projections.csv" } } });
  assert.deepEqual(await readPreparedIndex(dir, "openi"), {
    "000000": {
      path: "00/000000.jpg",
      key: "CXR1_1_IM-0001-3001",
      report: "The cardiac silhouette and mediastinum size are within normal limits. Normal chest x-XXXX.",
    },
    "000001": {
      path: "00/000001.jpg",
      key: "CXR2_IM-0652-1001",
      report: "Borderline cardiomegaly. Midline sternotomy & XXXX.",
    },
  });
});

kitTest("openi without a projection list keeps no image", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeOpenI(join(dir, "openi"));
  const [summary] = await runConfig(dir, { datasets: { openi: { root: "openi" } } });
  assert.equal(summary.planned, 0);
  assert.deepEqual(await readJson(join(dir, "out/openi/index.json")), {});

  const all = await tempDir();
  await writeOpenI(join(all, "openi"));
  await runConfig(all, { frontal_only: false, datasets: { openi: { root: "openi" } } });
  const index = await readPreparedIndex(all, "openi");
  assert.deepEqual(Object.values(index).map((entry) => entry.key), [
    "CXR1_1_IM-0001-3001",
    "CXR1_1_IM-0001-4001",
    "CXR2_IM-0652-1001",
  ]);
});

kitTest("siim-acr finds nested DICOMs and labels masks", [DICOM_PA], async () => {
  const dir = await tempDir();
  const root = join(dir, "siim");
  const a = "1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090";
  const b = "1.2.276.0.7230010.3.1.4.8323329.12515.1517875239.501137";
  const c = "1.2.276.0.7230010.3.1.4.8323329.4904.1517875185.355709";
  await write(
    join(root, "train-rle.csv"),
    `ImageId, EncodedPixels\n${a}, -1\n${b}, 175349 7 1013 12 1009 17\n${b}, 407576 2 1021 7 1015 10\n${c}, -1\n`,
  );
  await writeDicomWithView(join(root, `dicom-images-train/${a}.1/1.2.276.0.7230010.3.1.3.1/${a}.dcm`), "PA");
  await writeDicomWithView(join(root, `dicom-images-train/${b}.1/1.2.276.0.7230010.3.1.3.2/${b}.dcm`), "AP");

  await runConfig(dir, { datasets: { "siim-acr": { root: "siim" } } });
  assert.deepEqual(await readPreparedIndex(dir, "siim-acr"), {
    "000000": { path: "00/000000.jpg", key: a, class_label: [-1] },
    "000001": { path: "00/000001.jpg", key: b, class_label: [1] },
  });
  assert.equal(
    await Deno.readTextFile(join(dir, "out/siim-acr/skipped.log")),
    `-\t${c}\timage file not found\n`,
  );
});

kitTest("object-cxr labels annotated images", KIT_FILES, async () => {
  const dir = await tempDir();
  const root = join(dir, "object-CXR");
  await write(
    join(root, "train.csv"),
    "image_name,annotation\n00001.jpg,0 1254 1324 1334 1364 1424 1374;1 200 300 260 380\n00002.jpg,\n",
  );
  await write(join(root, "dev.csv"), "image_name,annotation\n08001.jpg,\n");
  await writeJpegFrom(NIH_PNGS[0], join(root, "train/00001.jpg"));
  await writeJpegFrom(NIH_PNGS[1], join(root, "train/00002.jpg"));
  await writeJpegFrom(NIH_PNGS[2], join(root, "dev/08001.jpg"));

  await runConfig(dir, {
    datasets: {
      "object-cxr": { root: "object-CXR" },
      "object-cxr-dev": { adapter: "object-cxr", root: "object-CXR", split: "dev" },
    },
  });
  assert.deepEqual(await readPreparedIndex(dir, "object-cxr"), {
    "000000": { path: "00/000000.jpg", key: "00001", class_label: [1] },
    "000001": { path: "00/000001.jpg", key: "00002", class_label: [-1] },
  });
  assert.deepEqual(await readPreparedIndex(dir, "object-cxr-dev"), {
    "000000": { path: "00/000000.jpg", key: "08001", class_label: [-1] },
  });
});
