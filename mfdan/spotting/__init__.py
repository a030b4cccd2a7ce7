"""Long recordings: find the micro-expressions in a video, then recognise each one (MEGC spot-then-recognise).

The data flow, one module each:

* :mod:`.video_frames` — a video file or a folder of frames as a stream of ``(index, RGB frame)``, never held
  whole in memory (also how ``mfdan predict`` decodes a video clip);
* :mod:`.faces` — dlib over the whole stream: detection every ``detect_every`` frames with landmark tracking
  between, segments that end where the face is lost and start where it is found, one alignment per stretch of
  a segment, re-estimated where the head moves;
* :mod:`.features` — per frame, on the aligned face: the LBP feature difference of Moilanen et al. (ICPR 2014)
  and SOFTNet's optical-flow input (u, v, strain between frames i and i + k);
* :mod:`.peaks` — a score curve to intervals: threshold from the video's own level, peaks, the micro / macro
  and head-motion rules;
* :mod:`.softnet` — the learned spotter, SOFTNet (Liong et al., ICIP 2021), trained leave-one-subject-out;
* :mod:`.scoring` — MEGC's evaluation: IoU ≥ 0.5 hits, precision / recall / F1, and the spot-then-recognise
  score (STRS);
* :mod:`.timeline` — a PNG of a video's score curve with the spotted and the true intervals.

The word *spot* here always means finding intervals in a long video; the apex of a labelled clip is found by
:mod:`mfdan.preprocess.apex_spotting` (``data.apex: flow_peak``, in the flow ``data.apex_flow`` names).
The generated long recordings of the demo: :mod:`mfdan.synth.long_videos`.
"""
