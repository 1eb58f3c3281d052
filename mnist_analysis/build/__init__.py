"""The build wing: the report build behind ``mnist-analysis report`` and the documents it writes.

- :mod:`~mnist_analysis.build.reports`: executes the notebooks and renders them to HTML.
- :mod:`~mnist_analysis.build.schedule`: the order and parallelism of the notebook runs.
- :mod:`~mnist_analysis.build.execution_cache`: reuse of executed notebooks.
- :mod:`~mnist_analysis.build.report_index`: the reports' index page.
- :mod:`~mnist_analysis.build.datasheet`, :mod:`~mnist_analysis.build.datasheet_values`,
  :mod:`~mnist_analysis.build.citations`: the dataset's datasheet.
- :mod:`~mnist_analysis.build.croissant`: the Croissant metadata.

The build imports the analysis, data and caching wings; none of them imports the build.
"""
