-- Alerts follow quality reports as well as drift reports: an alert names its reports by URI
-- (mlops://drift-reports/{id} or mlops://quality-reports/{id}). Every alert so far came from a
-- drift report.
UPDATE alerts SET raised_by_report = 'mlops://drift-reports/' || raised_by_report
    WHERE raised_by_report NOT LIKE 'mlops://%';
UPDATE alerts SET latest_report = 'mlops://drift-reports/' || latest_report
    WHERE latest_report NOT LIKE 'mlops://%';
