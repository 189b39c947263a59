/** The fake patient identifiers the shared chest DICOM files carry; none may appear in any output. */
export const CHEST_IDENTIFIERS = [
  "Testperson",
  "Alice",
  "CHEFF-TEST-0001",
  "19700101",
  "ACC-TEST-42",
  "Test Hospital",
  "TEST1",
  "20240115",
];
