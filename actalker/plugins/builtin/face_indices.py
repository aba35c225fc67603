"""Closed contours of MediaPipe Face Mesh landmarks (478-point model), as ordered polygons.

Taken from MediaPipe's ``FaceLandmarksConnections`` (face oval, lips, eyes, eyebrows) and
ordered into closed loops, hard-coded so regions work without mediapipe installed.
"Left"/"right" are the subject's, as MediaPipe names them.
"""

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
# Outer lip contour: lower lip left to right, then upper lip back.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
# Brows: upper edge outward-in, then lower edge back.
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)

NUM_LANDMARKS = 478
